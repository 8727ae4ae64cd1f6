//! What the admins say about the instance (title, description, rules, contact, registration
//! mode), kept in the database so a change needs no restart. Unset values fall back to the
//! configuration: the domain as title, the configured registration mode.

use diesel::prelude::*;
use guildhall_core::config::RegistrationMode;

use crate::schema::instance_settings;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// Rules an instance may list, and the length of each.
pub const MAX_RULES: usize = 30;
/// Longest rule.
pub const MAX_RULE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = instance_settings)]
struct Row {
    id: i32,
    title: String,
    description: String,
    rules_json: String,
    contact_email: String,
    registrations: Option<String>,
    allowlist: bool,
    updated_at: Timestamp,
}

/// The instance's settings as admins set them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceSettings {
    /// Its name (empty: the domain).
    pub title: String,
    /// What it is, in a paragraph or two (plain text).
    pub description: String,
    /// Its rules, in order.
    pub rules: Vec<String>,
    /// Where to write to its admins.
    pub contact_email: String,
    /// The registration mode, overriding the configuration's (`None`: the configuration's).
    pub registrations: Option<RegistrationMode>,
    /// Federate only with the allowed domains
    /// ([`crate::instance_blocks::allowed`]).
    pub allowlist: bool,
}

impl InstanceSettings {
    /// The title, or `domain` when none is set.
    pub fn title_or(&self, domain: &str) -> String {
        if self.title.trim().is_empty() { domain.to_owned() } else { self.title.clone() }
    }

    /// The registration mode in force: the admins' choice, else `configured`.
    pub fn registrations_or(&self, configured: RegistrationMode) -> RegistrationMode {
        self.registrations.unwrap_or(configured)
    }
}

/// The settings (defaults when none were saved).
pub fn get(conn: &mut DbConnection) -> StorageResult<InstanceSettings> {
    let row = instance_settings::table.find(1).select(Row::as_select()).first(conn).optional()?;
    Ok(row.map_or_else(InstanceSettings::default, |r| InstanceSettings {
        title: r.title,
        description: r.description,
        rules: serde_json::from_str(&r.rules_json).unwrap_or_default(),
        contact_email: r.contact_email,
        registrations: r.registrations.as_deref().and_then(RegistrationMode::parse),
        allowlist: r.allowlist,
    }))
}

/// Whether only allowed domains may federate (the settings' `allowlist`, read alone: it is
/// asked for every request another server sends).
pub fn allowlist(conn: &mut DbConnection) -> StorageResult<bool> {
    let on = instance_settings::table
        .find(1)
        .select(instance_settings::allowlist)
        .first::<bool>(conn)
        .optional()?;
    Ok(on.unwrap_or_else(|| InstanceSettings::default().allowlist))
}

/// Saves the settings.
pub fn save(conn: &mut DbConnection, settings: &InstanceSettings) -> StorageResult<()> {
    let row = Row {
        id: 1,
        title: settings.title.clone(),
        description: settings.description.clone(),
        rules_json: serde_json::to_string(&settings.rules).unwrap_or_else(|_| "[]".into()),
        contact_email: settings.contact_email.clone(),
        registrations: settings.registrations.map(|m| m.as_str().to_owned()),
        allowlist: settings.allowlist,
        updated_at: now(),
    };
    crate::transaction(conn, |c| {
        diesel::delete(instance_settings::table.find(1)).execute(c)?;
        diesel::insert_into(instance_settings::table).values(&row).execute(c)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::each_backend;

    #[tokio::test]
    async fn settings_default_then_saved_and_read_back() {
        each_backend(|db| async move {
            db.run(|c| {
                let empty = get(c)?;
                assert_eq!(empty, InstanceSettings::default());
                assert_eq!(empty.title_or("museum.example"), "museum.example");
                assert_eq!(empty.registrations_or(RegistrationMode::Closed), RegistrationMode::Closed);
                let set = InstanceSettings {
                    title: "Museum Computer Group".into(),
                    description: "For people who work with museum technology".into(),
                    rules: vec!["Be kind".into(), "No adverts".into()],
                    contact_email: "admin@museum.example".into(),
                    registrations: Some(RegistrationMode::Approval),
                    allowlist: true,
                };
                save(c, &set)?;
                save(c, &set)?;
                assert_eq!(get(c)?, set);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
