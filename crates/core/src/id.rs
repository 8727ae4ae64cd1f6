//! Time-sortable 64-bit ids.
//!
//! The high 48 bits hold milliseconds since the Unix epoch, the low 16 bits a per-process
//! sequence that starts at a random value. Ids therefore sort by creation time, so paging by
//! `max_id`/`since_id`/`min_id` is an index range scan, and several processes sharing one
//! database produce distinct ids with overwhelming probability (the primary key catches the
//! rest). In the client API they are rendered as decimal strings.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Bits reserved for the sequence inside one millisecond.
const SEQUENCE_BITS: u32 = 16;

/// A time-sortable 64-bit id, stored as `BIGINT` and shown as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Id(pub i64);

/// The process-wide generator behind [`Id::generate`].
static GENERATOR: IdGenerator = IdGenerator::new();

/// Hands out increasing ids: remembers the last millisecond used and the sequence within it.
#[derive(Debug)]
pub struct IdGenerator {
    state: Mutex<(i64, u16)>,
}

impl Default for IdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl Id {
    /// A new id, greater than every id this process generated before.
    pub fn generate() -> Id {
        GENERATOR.next_at(now_millis())
    }

    /// The smallest id that can exist at `millis`: useful as a paging bound for a time.
    pub fn lower_bound_at(millis: i64) -> Id {
        Id(millis << SEQUENCE_BITS)
    }

    /// The millisecond timestamp this id was generated at.
    pub fn millis(self) -> i64 {
        self.0 >> SEQUENCE_BITS
    }
}

impl IdGenerator {
    /// A generator that has handed out nothing yet.
    pub const fn new() -> Self {
        IdGenerator { state: Mutex::new((0, 0)) }
    }

    /// A new id for the given millisecond timestamp (or later, if the clock went backwards).
    pub fn next_at(&self, millis: i64) -> Id {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (last_ms, last_seq) = *state;
        let (ms, seq) = if millis > last_ms {
            (millis, rand::random::<u16>() & 0x7fff)
        } else if last_seq == u16::MAX {
            (last_ms + 1, 0)
        } else {
            (last_ms, last_seq + 1)
        };
        *state = (ms, seq);
        Id((ms << SEQUENCE_BITS) | i64::from(seq))
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX >> SEQUENCE_BITS))
        .unwrap_or(0)
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Id {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_within_one_millisecond_and_across() {
        let ids = IdGenerator::new();
        let a = ids.next_at(1_000);
        let b = ids.next_at(1_000);
        let c = ids.next_at(1_001);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(c.millis(), 1_001);
    }

    #[test]
    fn clock_going_backwards_still_increases() {
        let ids = IdGenerator::new();
        let a = ids.next_at(5_000_000);
        let b = ids.next_at(4_000_000);
        assert!(b > a);
    }

    #[test]
    fn sequence_overflow_moves_to_next_millisecond() {
        let ids = IdGenerator::new();
        let mut last = ids.next_at(9_000_000);
        for _ in 0..70_000 {
            let next = ids.next_at(9_000_000);
            assert!(next > last);
            last = next;
        }
        assert!(last.millis() > 9_000_000);
    }

    #[test]
    fn generated_ids_carry_the_current_time() {
        let before = now_millis();
        let id = Id::generate();
        assert!(id.millis() >= before && id > Id::lower_bound_at(before - 1));
    }

    #[test]
    fn renders_and_parses_as_decimal() {
        let id = Id(110_123_456_789);
        assert_eq!(id.to_string(), "110123456789");
        assert_eq!("110123456789".parse::<Id>(), Ok(id));
        assert!("abc".parse::<Id>().is_err());
    }
}
