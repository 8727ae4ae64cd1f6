//! In-memory rate limits: failed sign-ins, sign-ups and uploads, counted per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A limit was reached; the message says which, for the person who reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Limited(pub &'static str);

/// Accounts one address may create per hour (open and approval modes).
pub const SIGN_UPS_PER_HOUR: usize = 10;
/// Refused sign-up forms (a taken name or address, a bad field) one address may send per hour:
/// past that the form stops telling whether an address is registered.
pub const SIGN_UP_FAILURES_PER_HOUR: usize = 30;
const SIGN_UP_WINDOW: Duration = Duration::from_secs(3600);
/// Failed sign-ins with one login from one address before that pair waits.
const FAILURES_PER_LOGIN: usize = 5;
/// Failed sign-ins from one address (any login) before the address waits.
const FAILURES_PER_ADDRESS: usize = 20;
/// The window sign-in failures are counted in.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Images one account may upload per [`UPLOAD_WINDOW`] (attachments, avatars, headers), as
/// Mastodon allows.
pub const UPLOADS_PER_WINDOW: usize = 30;
/// Reports one account may file per hour.
pub const REPORTS_PER_HOUR: usize = 20;
/// The window uploads are counted in.
const UPLOAD_WINDOW: Duration = Duration::from_secs(30 * 60);
/// Most keys the limiter holds; past it, expired keys go, then arbitrary ones.
const MAX_KEYS: usize = 50_000;

/// What a limiter key counts.
#[derive(Debug, Clone, Copy, Hash)]
enum Counted {
    /// Failed sign-ins of one login from one address.
    LoginFailure,
    /// Failed sign-ins from one address.
    AddressFailure,
    /// Accounts created from one address.
    SignUp,
    /// Refused sign-up forms from one address.
    SignUpFailure,
    /// Images uploaded by one account.
    Upload,
    /// Reports filed by one account.
    Report,
}

impl Counted {
    fn limit(self) -> usize {
        match self {
            Counted::LoginFailure => FAILURES_PER_LOGIN,
            Counted::AddressFailure => FAILURES_PER_ADDRESS,
            Counted::SignUp => SIGN_UPS_PER_HOUR,
            Counted::SignUpFailure => SIGN_UP_FAILURES_PER_HOUR,
            Counted::Upload => UPLOADS_PER_WINDOW,
            Counted::Report => REPORTS_PER_HOUR,
        }
    }

    fn window(self) -> Duration {
        match self {
            Counted::LoginFailure | Counted::AddressFailure => WINDOW,
            Counted::SignUp | Counted::SignUpFailure => SIGN_UP_WINDOW,
            Counted::Upload => UPLOAD_WINDOW,
            Counted::Report => SIGN_UP_WINDOW,
        }
    }
}

/// The in-memory rate limits: failed sign-ins (per login and address together, and per
/// address), sign-ups and refused sign-up forms per address, image uploads per account.
///
/// Keys are 64-bit hashes under a per-process random key, so a megabyte-long login costs eight
/// bytes; only what is counted inserts (a check never does); each key keeps at most its
/// limit of instants; and the map holds at most [`MAX_KEYS`] keys. Per process: several
/// processes behind one balancer each count their own share.
#[derive(Debug, Default)]
pub struct RateLimits {
    hasher: std::hash::RandomState,
    failures: Mutex<HashMap<u64, Counts>>,
    /// Makes an attempt's check and count one step.
    attempts: Mutex<()>,
}

/// What one key counted, and when.
#[derive(Debug)]
struct Counts {
    counted: Counted,
    times: Vec<Instant>,
}

impl Counts {
    fn live(&self, now: Instant) -> usize {
        self.times.iter().filter(|t| now.duration_since(**t) < self.counted.window()).count()
    }

    fn at_limit(&self, now: Instant) -> bool {
        self.live(now) >= self.counted.limit()
    }
}

impl RateLimits {
    fn key(&self, counted: Counted, address: &str, login: Option<&str>) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.hasher.build_hasher();
        counted.hash(&mut h);
        address.hash(&mut h);
        if let Some(login) = login {
            // Logins are e-mail addresses or usernames, never longer than this; a longer one
            // hashes only its head (and never matches an account).
            let head: String = login.chars().take(320).flat_map(char::to_lowercase).collect();
            head.hash(&mut h);
        }
        h.finish()
    }

    /// True when `key` has reached the limit of `counted`; reads only.
    fn limited(&self, counted: Counted, key: u64) -> bool {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // The key already says what it counts (the kind is hashed into it).
        let _ = counted;
        map.get(&key).is_some_and(|counts| counts.at_limit(now))
    }

    fn record(&self, counted: Counted, key: u64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_KEYS && !map.contains_key(&key) {
            map.retain(|_, counts| counts.live(now) > 0);
            if map.len() >= MAX_KEYS {
                // Still full of live keys: forget a quarter, those below their limit and least
                // recently counted first, so a flood of new keys cannot lift a standing limit.
                let mut order: Vec<(bool, Instant, u64)> = map
                    .iter()
                    .map(|(k, c)| (c.at_limit(now), c.times.last().copied().unwrap_or(now), *k))
                    .collect();
                order.sort_unstable();
                for (_, _, k) in order.into_iter().take(MAX_KEYS / 4) {
                    map.remove(&k);
                }
            }
        }
        let counts = map.entry(key).or_insert_with(|| Counts { counted, times: Vec::new() });
        counts.times.retain(|t| now.duration_since(*t) < counted.window());
        if counts.times.len() >= counted.limit() {
            counts.times.remove(0);
        }
        counts.times.push(now);
    }

    /// 429 when `login` failed [`FAILURES_PER_LOGIN`] times from `address`, or `address`
    /// failed [`FAILURES_PER_ADDRESS`] times, in the last 15 minutes. Someone guessing from
    /// elsewhere never locks the account's owner out.
    pub fn check(&self, login: &str, address: &str) -> Result<(), Limited> {
        let pair = self.key(Counted::LoginFailure, address, Some(login));
        let addr = self.key(Counted::AddressFailure, address, None);
        if self.limited(Counted::LoginFailure, pair) || self.limited(Counted::AddressFailure, addr) {
            return Err(Limited("Too many failed sign-in attempts; try again later"));
        }
        Ok(())
    }

    /// Checks and counts a sign-in attempt as failed at once, before the password is
    /// verified, so parallel guesses cannot all pass the check; [`RateLimits::succeeded`]
    /// takes the count back when the password was right.
    pub fn attempt(&self, login: &str, address: &str) -> Result<(), Limited> {
        let _serial = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        self.check(login, address)?;
        self.failed(login, address);
        Ok(())
    }

    /// Takes back the count of an [`RateLimits::attempt`] whose password was right.
    pub fn succeeded(&self, login: &str, address: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in [
            self.key(Counted::LoginFailure, address, Some(login)),
            self.key(Counted::AddressFailure, address, None),
        ] {
            if let Some(counts) = map.get_mut(&key) {
                counts.times.pop();
            }
        }
    }

    /// Records a failed sign-in.
    pub fn failed(&self, login: &str, address: &str) {
        self.record(Counted::LoginFailure, self.key(Counted::LoginFailure, address, Some(login)));
        self.record(Counted::AddressFailure, self.key(Counted::AddressFailure, address, None));
    }

    /// 429 when `address` created [`SIGN_UPS_PER_HOUR`] accounts, or sent
    /// [`SIGN_UP_FAILURES_PER_HOUR`] refused sign-up forms, in the last hour.
    pub fn check_sign_up(&self, address: &str) -> Result<(), Limited> {
        if self.limited(Counted::SignUp, self.key(Counted::SignUp, address, None)) {
            return Err(Limited("Too many sign-ups from this address; try again later"));
        }
        if self.limited(Counted::SignUpFailure, self.key(Counted::SignUpFailure, address, None)) {
            return Err(Limited("Too many refused sign-ups from this address; try again later"));
        }
        Ok(())
    }

    /// Records an account created from `address`.
    pub fn signed_up(&self, address: &str) {
        self.record(Counted::SignUp, self.key(Counted::SignUp, address, None));
    }

    /// Records a sign-up form refused for its content (a taken name, a bad field).
    pub fn sign_up_refused(&self, address: &str) {
        self.record(Counted::SignUpFailure, self.key(Counted::SignUpFailure, address, None));
    }

    /// 429 when account `actor_id` uploaded [`UPLOADS_PER_WINDOW`] images in the window.
    pub fn check_upload(&self, actor_id: i64) -> Result<(), Limited> {
        if self.limited(Counted::Upload, self.key(Counted::Upload, &actor_id.to_string(), None)) {
            return Err(Limited("Too many uploads; try again later"));
        }
        Ok(())
    }

    /// Records an image upload by account `actor_id`.
    pub fn uploaded(&self, actor_id: i64) {
        self.record(Counted::Upload, self.key(Counted::Upload, &actor_id.to_string(), None));
    }

    /// Checks and counts a report filed by account `actor_id`: 429 past
    /// [`REPORTS_PER_HOUR`] an hour (reports are read by people; a flood would bury the rest).
    pub fn report(&self, actor_id: i64) -> Result<(), Limited> {
        let key = self.key(Counted::Report, &actor_id.to_string(), None);
        let _serial = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if self.limited(Counted::Report, key) {
            return Err(Limited("Too many reports; try again later"));
        }
        self.record(Counted::Report, key);
        Ok(())
    }

    /// How many keys are held (for tests and the memory benchmark).
    pub fn keys(&self) -> usize {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_before_the_password_is_known() {
        let limiter = RateLimits::default();
        for _ in 0..5 {
            assert!(limiter.attempt("ada", "10.0.0.1").is_ok());
        }
        assert!(limiter.attempt("ada", "10.0.0.1").is_err(), "five attempts in flight are all it takes");
        let other = RateLimits::default();
        for _ in 0..10 {
            assert!(other.attempt("ada", "10.0.0.2").is_ok());
            other.succeeded("ada", "10.0.0.2");
        }
        assert!(other.check("ada", "10.0.0.2").is_ok(), "right passwords are not counted");
    }

    #[test]
    fn limiter_counts_per_login_and_address() {
        let limiter = RateLimits::default();
        for _ in 0..5 {
            assert!(limiter.check("ada", "10.0.0.1").is_ok());
            limiter.failed("ADA", "10.0.0.1");
        }
        assert!(limiter.check("ada", "10.0.0.1").is_err(), "the pair is limited");
        assert!(limiter.check("ada", "10.0.0.2").is_ok(), "the owner elsewhere is not locked out");
        assert!(limiter.check("bob", "10.0.0.1").is_ok());
        for i in 0..15 {
            limiter.failed(&format!("user{i}"), "10.0.0.1");
        }
        assert!(limiter.check("bob", "10.0.0.1").is_err(), "the address is limited after 20 failures");
    }

    #[test]
    fn limiter_checks_without_inserting_and_stays_bounded() {
        let limiter = RateLimits::default();
        let huge = "x".repeat(1 << 20);
        for i in 0..1000 {
            assert!(limiter.check(&huge, &format!("10.1.{}.{}", i / 256, i % 256)).is_ok());
        }
        assert_eq!(limiter.keys(), 0, "a check records nothing");
        for i in 0..(MAX_KEYS + 10) {
            limiter.signed_up(&format!("addr{i}"));
        }
        assert!(limiter.keys() <= MAX_KEYS, "{} keys", limiter.keys());
    }

    #[test]
    fn a_flood_of_new_keys_does_not_lift_a_standing_limit() {
        let limiter = RateLimits::default();
        for _ in 0..5 {
            limiter.failed("ada", "203.0.113.9");
        }
        for i in 0..(2 * MAX_KEYS) {
            limiter.signed_up(&format!("flood{i}"));
        }
        assert!(limiter.check("ada", "203.0.113.9").is_err(), "the guesser is still held");
    }
}
