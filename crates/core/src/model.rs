//! Small enums stored as text: actor kinds, roles, visibility, follow and group settings.
//!
//! Each has `as_str` (the stored and wire name) and `parse` (its inverse, `None` for anything
//! else), so storage, CLI and API agree on one spelling.

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value spelled `text`, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// What kind of ActivityPub actor a row is.
    ActorKind {
        /// A person (`Person`).
        Person = "person",
        /// A group (`Group`, FEP-1b12).
        Group = "group",
        /// An application, such as an instance actor (`Application`).
        Application = "application",
        /// An automated account (`Service`).
        Service = "service",
        /// An organisation (`Organization`).
        Organization = "organization",
    }
}

text_enum! {
    /// A local user's powers on the instance.
    Role {
        /// An ordinary member.
        User = "user",
        /// Handles reports.
        Moderator = "moderator",
        /// Runs the instance.
        Admin = "admin",
    }
}

text_enum! {
    /// What an instance's block of a domain does.
    BlockSeverity {
        /// Nothing exchanged; cached accounts and posts purged.
        Suspend = "suspend",
        /// Out of public timelines.
        Silence = "silence",
        /// Only what the other flags say (such as rejecting media).
        Noop = "noop",
    }
}

text_enum! {
    /// Who may see a status.
    Visibility {
        /// Everyone, in public timelines too.
        Public = "public",
        /// Everyone, but not in public timelines.
        Unlisted = "unlisted",
        /// Followers (or group members) only.
        Private = "private",
        /// Only the mentioned actors.
        Direct = "direct",
    }
}

text_enum! {
    /// Whether a follow has been accepted.
    FollowState {
        /// Requested, waiting for approval.
        Pending = "pending",
        /// In force.
        Accepted = "accepted",
    }
}

text_enum! {
    /// How accounts join a group.
    Membership {
        /// Joins are accepted at once.
        Open = "open",
        /// Moderators approve each request.
        Approval = "approval",
        /// Only invited accounts may join.
        Invite = "invite",
    }
}

text_enum! {
    /// Who may post into a group.
    PostingPolicy {
        /// Any member.
        Members = "members",
        /// Only moderators: an announcement channel.
        Moderators = "moderators",
    }
}

text_enum! {
    /// Who can read a group's posts.
    GroupVisibility {
        /// Posts are public.
        Public = "public",
        /// Posts reach members only.
        Members = "members",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for v in Visibility::ALL {
            assert_eq!(Visibility::parse(v.as_str()), Some(*v));
        }
        for v in Membership::ALL {
            assert_eq!(Membership::parse(&v.to_string()), Some(*v));
        }
        assert_eq!(ActorKind::parse("Person"), None, "spelling is exact");
        assert_eq!(serde_json::to_string(&Role::Admin).ok(), Some("\"admin\"".into()));
    }
}

text_enum! {
    /// How one takes part in an event (Mobilizon's `joinMode`).
    JoinMode {
        /// Anyone may come: a `Join` is accepted at once (while places remain).
        Free = "free",
        /// The organizer accepts or rejects each `Join`.
        Restricted = "restricted",
        /// Only those the organizer invites.
        Invite = "invite",
        /// Registration happens elsewhere (`externalParticipationUrl`).
        External = "external",
    }
}

text_enum! {
    /// Whether an event goes ahead (schema.org's `eventStatus`).
    EventStatus {
        /// Goes ahead as announced.
        Scheduled = "scheduled",
        /// Will not happen.
        Cancelled = "cancelled",
        /// Moved to a date not yet known.
        Postponed = "postponed",
        /// Now happens online only.
        MovedOnline = "moved_online",
    }
}

impl EventStatus {
    /// The schema.org `eventStatus` term.
    pub fn schema_org(self) -> &'static str {
        match self {
            EventStatus::Scheduled => "https://schema.org/EventScheduled",
            EventStatus::Cancelled => "https://schema.org/EventCancelled",
            EventStatus::Postponed => "https://schema.org/EventPostponed",
            EventStatus::MovedOnline => "https://schema.org/EventMovedOnline",
        }
    }

    /// The iCalendar `STATUS` (Mobilizon's `ical:status`).
    pub fn ical(self) -> &'static str {
        match self {
            EventStatus::Scheduled | EventStatus::MovedOnline => "CONFIRMED",
            EventStatus::Cancelled => "CANCELLED",
            EventStatus::Postponed => "TENTATIVE",
        }
    }

    /// The status named by a schema.org `eventStatus` (full or short) or an `ical:status`.
    pub fn from_wire(text: &str) -> Option<EventStatus> {
        let term = text.rsplit(['/', '#', ':']).next().unwrap_or(text);
        match term {
            "EventScheduled" | "EventRescheduled" | "CONFIRMED" => Some(EventStatus::Scheduled),
            "EventCancelled" | "CANCELLED" => Some(EventStatus::Cancelled),
            "EventPostponed" | "TENTATIVE" => Some(EventStatus::Postponed),
            "EventMovedOnline" => Some(EventStatus::MovedOnline),
            _ => None,
        }
    }
}

text_enum! {
    /// Where one stands with an event.
    Participation {
        /// Asked to come; the organizer has not answered (restricted events).
        Pending = "pending",
        /// Coming.
        Accepted = "accepted",
        /// On the waiting list: the event was full.
        Waiting = "waiting",
        /// Refused by the organizer.
        Rejected = "rejected",
        /// Might come (Friendica's `TentativeAccept`); not counted.
        Maybe = "maybe",
    }
}
