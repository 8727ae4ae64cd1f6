//! The values mail speaks in: where it goes out ([`SmtpUrl`]), who sends it ([`MailFrom`]),
//! what a member may receive ([`MailCategory`], [`GroupMailMode`]), and the signed keys that
//! links and reply addresses carry ([`Signer`]).
//!
//! Links in mail (unsubscribe, confirm an address, reset a password, confirm a follow by
//! mail) and reply addresses carry an HMAC of what they name under the instance's secret, so
//! nothing is stored per mail and nothing can be forged or altered. Keys use only lower-case
//! letters, digits and `-`, because mail systems may fold the case of an address.

use std::fmt;

use aws_lc_rs::hmac;
use thiserror::Error;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (`smtp://`): a relay on this machine or a private network.
    Plain,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Tls,
    /// Plain, then upgraded by STARTTLS (`smtp://…?tls=starttls`, usually port 587).
    StartTls,
}

/// An SMTP server to send through: `smtp://[USER:PASSWORD@]HOST[:PORT][?tls=starttls]` or
/// `smtps://…`. The password is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// TLS or not.
    pub security: Security,
    /// Server host name or address.
    pub host: String,
    /// Server port (25 plain, 465 TLS, 587 STARTTLS unless given).
    pub port: u16,
    /// User name for AUTH, percent-decoded.
    pub user: Option<String>,
    /// Password for AUTH, percent-decoded. A secret.
    pub password: Option<String>,
}

impl SmtpUrl {
    /// Parses the URL, or `None` when it is not one of the accepted forms.
    pub fn parse(raw: &str) -> Option<SmtpUrl> {
        let url = url::Url::parse(raw).ok()?;
        let mut security = match url.scheme() {
            "smtp" => Security::Plain,
            "smtps" => Security::Tls,
            _ => return None,
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "starttls") if security == Security::Plain => security = Security::StartTls,
                ("tls", "none") if security == Security::Plain => {}
                _ => return None,
            }
        }
        let host = url.host_str().filter(|h| !h.is_empty())?.trim_matches(['[', ']']).to_owned();
        let port = url.port().unwrap_or(match security {
            Security::Plain => 25,
            Security::Tls => 465,
            Security::StartTls => 587,
        });
        let user = Some(url.username()).filter(|u| !u.is_empty()).map(percent_decode);
        let password = url.password().map(percent_decode);
        if url.path() != "" && url.path() != "/" {
            return None;
        }
        // A password is never sent in clear to another machine.
        let loopback =
            host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if password.is_some() && security == Security::Plain && !loopback {
            return None;
        }
        Some(SmtpUrl { security, host, port, user, password })
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.security == Security::Tls { "smtps" } else { "smtp" };
        let auth = match (&self.user, &self.password) {
            (Some(user), Some(_)) => format!("{user}:***@"),
            (Some(user), None) => format!("{user}@"),
            _ => String::new(),
        };
        let query = if self.security == Security::StartTls { "?tls=starttls" } else { "" };
        write!(f, "{scheme}://{auth}{}:{}{query}", self.host, self.port)
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

/// `%XX` escapes decoded (a `+` stays a `+`), as URL user info is written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The sender of our mail: `address` or `"Name" <address>`. Its domain is also the domain of
/// reply addresses (`reply+KEY@domain`), so it must be one whose mail reaches this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    /// A display name.
    pub name: Option<String>,
    /// `local@domain`.
    pub address: String,
}

impl MailFrom {
    /// Parses `addr` or `Name <addr>`.
    pub fn parse(raw: &str) -> Option<MailFrom> {
        let raw = raw.trim();
        let (name, address) = match raw.rsplit_once('<') {
            Some((name, rest)) => {
                let address = rest.strip_suffix('>')?.trim();
                let name = name.trim().trim_matches('"').trim();
                (Some(name.to_owned()).filter(|n| !n.is_empty()), address)
            }
            None => (None, raw),
        };
        let (local, domain) = address.rsplit_once('@')?;
        let plain = |s: &str| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"@".contains(c))
        };
        if !plain(local) || !plain(domain) || name.as_deref().is_some_and(|n| n.chars().any(char::is_control))
        {
            return None;
        }
        Some(MailFrom { name, address: address.to_ascii_lowercase() })
    }

    /// The domain of the address.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// The reply address carrying `key`: `reply+KEY@domain`.
    pub fn reply_address(&self, key: &str) -> String {
        format!("reply+{key}@{}", self.domain())
    }
}

/// A kind of notification a member may receive by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailCategory {
    /// Mentions and replies (on by default).
    Mentions,
    /// Follow requests, and join requests to a group's moderators (on by default).
    FollowRequests,
    /// Reports, to moderators and admins (on by default).
    Reports,
    /// Reminders of events one is coming to (off by default).
    EventReminders,
}

impl MailCategory {
    /// Every category.
    pub const ALL: [MailCategory; 4] = [
        MailCategory::Mentions,
        MailCategory::FollowRequests,
        MailCategory::Reports,
        MailCategory::EventReminders,
    ];

    /// The API's and the links' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MailCategory::Mentions => "mentions",
            MailCategory::FollowRequests => "follow_requests",
            MailCategory::Reports => "reports",
            MailCategory::EventReminders => "event_reminders",
        }
    }

    /// The category spelled `v`.
    pub fn parse(v: &str) -> Option<MailCategory> {
        MailCategory::ALL.into_iter().find(|c| c.as_str() == v)
    }
}

/// How mail from one group reaches one reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupMailMode {
    /// Each post, as it is accepted.
    EveryPost,
    /// A digest once a day at the reader's hour.
    Daily,
    /// A digest once a week (Mondays) at the reader's hour.
    Weekly,
}

impl GroupMailMode {
    /// The stored and API spelling: `every_post`, `daily`, `weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupMailMode::EveryPost => "every_post",
            GroupMailMode::Daily => "daily",
            GroupMailMode::Weekly => "weekly",
        }
    }

    /// The mode spelled `v`.
    pub fn parse(v: &str) -> Option<GroupMailMode> {
        [GroupMailMode::EveryPost, GroupMailMode::Daily, GroupMailMode::Weekly]
            .into_iter()
            .find(|m| m.as_str() == v)
    }

    /// True for the digests.
    pub fn is_digest(self) -> bool {
        !matches!(self, GroupMailMode::EveryPost)
    }
}

/// How a group's mail comes, in words: "every post", "a daily digest at 07:00 (Europe/London)".
pub fn delivery_words(mode: GroupMailMode, hour: i32, timezone: &str) -> String {
    match mode {
        GroupMailMode::EveryPost => "every post".to_owned(),
        GroupMailMode::Daily => format!("a daily digest at {hour:02}:00 ({timezone})"),
        GroupMailMode::Weekly => format!("a weekly digest on Mondays at {hour:02}:00 ({timezone})"),
    }
}

/// When the next digest after `after` (UTC) falls due: the first `hour`:00 in `timezone`
/// strictly after it, on any day (daily) or a Monday (weekly). A wall-clock hour skipped by a
/// DST change falls an hour later. `None` for every-post mail or an unknown zone.
pub fn next_digest(
    mode: GroupMailMode,
    timezone: &str,
    hour: u32,
    after: chrono::NaiveDateTime,
) -> Option<chrono::NaiveDateTime> {
    use chrono::{Datelike, TimeZone};
    if !mode.is_digest() || hour > 23 {
        return None;
    }
    let tz: chrono_tz::Tz = timezone.parse().ok()?;
    let local_after = tz.from_utc_datetime(&after).date_naive();
    (0..16).find_map(|days| {
        let day = local_after + chrono::Duration::days(days);
        if mode == GroupMailMode::Weekly && day.weekday() != chrono::Weekday::Mon {
            return None;
        }
        let at = (hour..=23.min(hour + 2))
            .find_map(|h| tz.from_local_datetime(&day.and_hms_opt(h, 0, 0)?).earliest())?;
        let utc = at.naive_utc();
        (utc > after).then_some(utc)
    })
}

/// Signs and checks the keys in mailed links and reply addresses with the instance's secret.
#[derive(Clone)]
pub struct Signer(hmac::Key);

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(…)")
    }
}

/// Why a mailed key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Not a key of this kind, or not signed by us.
    #[error("the link or address is not valid")]
    Invalid,
    /// Signed by us, but too old.
    #[error("the link has expired")]
    Expired,
}

/// Bytes of the HMAC kept in a key: 96 bits.
const MAC_BYTES: usize = 12;
/// How many days a reply address works: a leaked one (a forwarded mail, a list archive)
/// stops letting anyone post in the member's name.
pub const REPLY_KEY_DAYS: i64 = 90;

/// Days since 1970-01-01 of a time, as reply keys count them.
pub fn day_of(at: chrono::NaiveDateTime) -> i64 {
    at.and_utc().timestamp().div_euclid(86_400)
}

/// Hex digits of the HMAC kept in a reply key: 80 bits.
const REPLY_MAC_CHARS: usize = 20;

fn base36(n: i64) -> String {
    let mut n = n.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        let d = u32::try_from(n % 36).unwrap_or(0);
        digits.push(char::from_digit(d, 36).unwrap_or('0'));
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

fn from_base36(s: &str) -> Result<i64, KeyError> {
    if s.is_empty() || s.len() > 13 || !s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()) {
        return Err(KeyError::Invalid);
    }
    i64::from_str_radix(s, 36).map_err(|_| KeyError::Invalid)
}

impl Signer {
    /// A signer with `secret` (at least 32 random bytes).
    pub fn new(secret: &[u8]) -> Signer {
        Signer(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn mac(&self, purpose: &str, fields: &[&str]) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(purpose.as_bytes());
        for field in fields {
            ctx.update(&[0]);
            ctx.update(field.as_bytes());
        }
        let tag = ctx.sign();
        tag.as_ref()[..MAC_BYTES].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn check(&self, purpose: &str, fields: &[&str], mac: &str) -> Result<(), KeyError> {
        let expected = self.mac(purpose, fields);
        let same = expected.len() == mac.len()
            && expected.bytes().zip(mac.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same { Ok(()) } else { Err(KeyError::Invalid) }
    }

    /// The key of a reply address: who (`actor_id`) may answer which status by mail, issued
    /// on `day` (days since 1970-01-01). The ids and the day are written in base 36 and the
    /// MAC cut to 80 bits, so `reply+KEY` stays within the 64 characters an address's local
    /// part may have.
    pub fn reply_key(&self, status_id: i64, actor_id: i64, day: i64) -> String {
        let (s, a, d) = (base36(status_id), base36(actor_id), base36(day));
        let mac = self.mac("reply", &[&s, &a, &d]);
        format!("{s}-{a}-{d}-{}", &mac[..REPLY_MAC_CHARS])
    }

    /// The status and actor a reply key names, when we signed it at most
    /// [`REPLY_KEY_DAYS`] before `today`.
    pub fn open_reply_key(&self, key: &str, today: i64) -> Result<(i64, i64), KeyError> {
        let [s, a, d, mac] = split::<4>(key)?;
        let expected = self.mac("reply", &[s, a, d]);
        let expected = &expected[..REPLY_MAC_CHARS];
        let same = expected.len() == mac.len()
            && expected.bytes().zip(mac.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if !same {
            return Err(KeyError::Invalid);
        }
        if today - from_base36(d)? > REPLY_KEY_DAYS {
            return Err(KeyError::Expired);
        }
        Ok((from_base36(s)?, from_base36(a)?))
    }

    /// The key of a one-click unsubscribe link.
    pub fn unsubscribe_key(&self, what: Unsubscribe) -> String {
        match what {
            Unsubscribe::Group(id) => {
                let id = id.to_string();
                format!("g{id}-{}", self.mac("unsubscribe-group", &[&id]))
            }
            Unsubscribe::Notifications { actor_id, category } => {
                let id = actor_id.to_string();
                format!(
                    "n{id}-{}-{}",
                    category.as_str().replace('_', ""),
                    self.mac("unsubscribe", &[&id, category.as_str()])
                )
            }
        }
    }

    /// What an unsubscribe key stops, when we signed it.
    pub fn open_unsubscribe_key(&self, key: &str) -> Result<Unsubscribe, KeyError> {
        if let Some(rest) = key.strip_prefix('g') {
            let [id, mac] = split::<2>(rest)?;
            self.check("unsubscribe-group", &[id], mac)?;
            return Ok(Unsubscribe::Group(number(id)?));
        }
        let rest = key.strip_prefix('n').ok_or(KeyError::Invalid)?;
        let [id, cat, mac] = split::<3>(rest)?;
        let category = MailCategory::ALL
            .into_iter()
            .find(|c| c.as_str().replace('_', "") == cat)
            .ok_or(KeyError::Invalid)?;
        self.check("unsubscribe", &[id, category.as_str()], mac)?;
        Ok(Unsubscribe::Notifications { actor_id: number(id)?, category })
    }

    /// A key for a link valid until `expires` (Unix seconds) that names `id` and is bound to
    /// `bound` (an address, a password hash): changing that voids the link.
    pub fn expiring_key(&self, purpose: Purpose, id: i64, bound: &str, expires: i64) -> String {
        let (i, e) = (id.to_string(), expires.to_string());
        format!("{i}-{e}-{}", self.mac(purpose.as_str(), &[&i, &e, bound]))
    }

    /// The id an expiring key names: `bound` must be what it was bound to, `now` (Unix
    /// seconds) before its end. Read the id with [`Signer::expiring_key_id`] first to look
    /// up what it is bound to.
    pub fn open_expiring_key(
        &self,
        purpose: Purpose,
        key: &str,
        bound: &str,
        now: i64,
    ) -> Result<i64, KeyError> {
        let [i, e, mac] = split::<3>(key)?;
        self.check(purpose.as_str(), &[i, e, bound], mac)?;
        if number(e)? < now {
            return Err(KeyError::Expired);
        }
        number(i)
    }

    /// The id an expiring key claims to name (not yet checked).
    pub fn expiring_key_id(key: &str) -> Result<i64, KeyError> {
        let [i, _, _] = split::<3>(key)?;
        number(i)
    }
}

/// What an expiring key is for (each signs differently, so one cannot stand for another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm a new account's address (bound to the address).
    ConfirmAddress,
    /// Set a new password (bound to the current password hash, so it works once).
    ResetPassword,
    /// Confirm a follow of a group by mail (bound to the address).
    ConfirmFollow,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::ConfirmAddress => "confirm-address",
            Purpose::ResetPassword => "reset-password",
            Purpose::ConfirmFollow => "confirm-follow",
        }
    }
}

/// What a one-click unsubscribe stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribe {
    /// A group's mail to one reader (a subscription row).
    Group(i64),
    /// One category of a member's notification mail.
    Notifications {
        /// The member.
        actor_id: i64,
        /// The category.
        category: MailCategory,
    },
}

fn split<const N: usize>(key: &str) -> Result<[&str; N], KeyError> {
    let parts: Vec<&str> = key.split('-').collect();
    parts.try_into().map_err(|_| KeyError::Invalid)
}

fn number(s: &str) -> Result<i64, KeyError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeyError::Invalid);
    }
    s.parse().map_err(|_| KeyError::Invalid)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_parse_and_hide_the_password() {
        let url = SmtpUrl::parse("smtp://ada:p%40s+s@mail.example:2525?tls=starttls").unwrap();
        assert_eq!(url.security, Security::StartTls);
        assert_eq!((url.host.as_str(), url.port), ("mail.example", 2525));
        assert_eq!(url.user.as_deref(), Some("ada"));
        assert_eq!(url.password.as_deref(), Some("p@s+s"));
        assert!(SmtpUrl::parse("smtp://ada:secret@mail.example").is_none(), "no password in clear");
        assert!(SmtpUrl::parse("smtp://ada:secret@127.0.0.1:25").is_some(), "except to this machine");
        assert!(!format!("{url:?} {url}").contains("p@s"));
        assert_eq!(SmtpUrl::parse("smtps://mail.example").unwrap().port, 465);
        assert_eq!(SmtpUrl::parse("smtp://127.0.0.1:25").unwrap().security, Security::Plain);
        for bad in ["http://x", "smtp://", "smtps://x?tls=starttls", "smtp://x?tls=maybe", "smtp://x/path"] {
            assert!(SmtpUrl::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn digests_fall_due_at_the_readers_hour() {
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // 08:00 in London in winter is 08:00 UTC; already past today, so tomorrow.
        let next = next_digest(GroupMailMode::Daily, "Europe/London", 8, at("2026-12-04 09:00"));
        assert_eq!(next, Some(at("2026-12-05 08:00")));
        // In summer it is 07:00 UTC.
        let next = next_digest(GroupMailMode::Daily, "Europe/London", 8, at("2026-07-01 06:00"));
        assert_eq!(next, Some(at("2026-07-01 07:00")));
        // Weekly: the next Monday (2026-12-07).
        let next = next_digest(GroupMailMode::Weekly, "UTC", 8, at("2026-12-04 09:00"));
        assert_eq!(next, Some(at("2026-12-07 08:00")));
        assert_eq!(next_digest(GroupMailMode::EveryPost, "UTC", 8, at("2026-12-04 09:00")), None);
        assert_eq!(next_digest(GroupMailMode::Daily, "Mars/Olympus", 8, at("2026-12-04 09:00")), None);
    }

    #[test]
    fn senders_parse() {
        let from = MailFrom::parse("\"Museum Computer Group\" <News@Museums.example>").unwrap();
        assert_eq!(from.name.as_deref(), Some("Museum Computer Group"));
        assert_eq!(from.address, "news@museums.example");
        assert_eq!(from.reply_address("1-2-ab"), "reply+1-2-ab@museums.example");
        assert_eq!(MailFrom::parse("notifications@localhost").unwrap().domain(), "localhost");
        for bad in ["", "nobody", "a b@c", "<x@y", "x@"] {
            assert!(MailFrom::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn keys_open_only_as_signed() {
        let signer = Signer::new(&[7; 32]);
        let other = Signer::new(&[8; 32]);
        let key = signer.reply_key(117_729_421_215_028_856, 456, 20_000);
        assert_eq!(signer.open_reply_key(&key, 20_001), Ok((117_729_421_215_028_856, 456)));
        assert_eq!(signer.open_reply_key(&key, 20_000 + REPLY_KEY_DAYS + 1), Err(KeyError::Expired));
        assert!("reply+".len() + key.len() <= 64, "{key}");
        assert_eq!(other.open_reply_key(&key, 20_001), Err(KeyError::Invalid));
        let (s, rest) = key.split_once('-').unwrap();
        let altered = format!("{}-{rest}", base36(from_base36(s).unwrap() + 1));
        assert_eq!(signer.open_reply_key(&altered, 20_001), Err(KeyError::Invalid));
        assert!(key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));

        for what in [
            Unsubscribe::Group(9),
            Unsubscribe::Notifications { actor_id: 5, category: MailCategory::FollowRequests },
        ] {
            let key = signer.unsubscribe_key(what);
            assert_eq!(signer.open_unsubscribe_key(&key), Ok(what));
            assert_eq!(other.open_unsubscribe_key(&key), Err(KeyError::Invalid));
        }
        assert_eq!(signer.open_unsubscribe_key("g10-00"), Err(KeyError::Invalid));

        let key = signer.expiring_key(Purpose::ResetPassword, 42, "hash-1", 1_000);
        assert_eq!(Signer::expiring_key_id(&key), Ok(42));
        assert_eq!(signer.open_expiring_key(Purpose::ResetPassword, &key, "hash-1", 999), Ok(42));
        assert_eq!(
            signer.open_expiring_key(Purpose::ResetPassword, &key, "hash-1", 1_001),
            Err(KeyError::Expired)
        );
        assert_eq!(
            signer.open_expiring_key(Purpose::ResetPassword, &key, "hash-2", 999),
            Err(KeyError::Invalid)
        );
        assert_eq!(
            signer.open_expiring_key(Purpose::ConfirmAddress, &key, "hash-1", 999),
            Err(KeyError::Invalid)
        );
    }
}
