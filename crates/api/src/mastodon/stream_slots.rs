//! Bounds on open streams: in total, per client address and per token. A stream holds a task,
//! a channel and a database look per change, so a stranger must not be able to open them
//! without end. Per process: several processes each hold their own share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ApiError;

/// Most streams one process holds open.
pub const MAX_STREAMS: usize = 10_000;
/// Most streams from one client address (IPv4, or an IPv6 /64): an office behind one address
/// has many members, each with an app or two open.
pub const MAX_STREAMS_PER_ADDRESS: usize = 100;
/// Most streams on one access token (one app on one device).
pub const MAX_STREAMS_PER_TOKEN: usize = 16;

/// Counts open streams and hands out slots.
#[derive(Debug, Default)]
pub struct StreamSlots {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<String, usize>,
    by_token: HashMap<i64, usize>,
}

/// One open stream's place; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<StreamSlots>,
    address: String,
    token: Option<i64>,
}

impl StreamSlots {
    /// A slot for a stream from `address` on `token`, or 429 when a bound is reached.
    pub fn take(self: &Arc<Self>, address: &str, token: Option<i64>) -> Result<Slot, ApiError> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let from_address = counts.by_address.get(address).copied().unwrap_or(0);
        let on_token = token.and_then(|t| counts.by_token.get(&t).copied()).unwrap_or(0);
        if counts.total >= MAX_STREAMS
            || from_address >= MAX_STREAMS_PER_ADDRESS
            || on_token >= MAX_STREAMS_PER_TOKEN
        {
            return Err(ApiError::TooManyRequests("Too many open streams; close one and try again".into()));
        }
        counts.total += 1;
        *counts.by_address.entry(address.to_owned()).or_default() += 1;
        if let Some(t) = token {
            *counts.by_token.entry(t).or_default() += 1;
        }
        Ok(Slot { slots: Arc::clone(self), address: address.to_owned(), token })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&self.address);
            }
        }
        if let Some(t) = self.token
            && let Some(n) = counts.by_token.get_mut(&t)
        {
            *n -= 1;
            if *n == 0 {
                counts.by_token.remove(&t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_address_and_token_and_given_back() {
        let slots = Arc::new(StreamSlots::default());
        let mut held: Vec<Slot> =
            (0..MAX_STREAMS_PER_ADDRESS).filter_map(|_| slots.take("198.51.100.1", None).ok()).collect();
        assert_eq!(held.len(), MAX_STREAMS_PER_ADDRESS);
        assert!(slots.take("198.51.100.1", None).is_err(), "the address is full");
        assert!(slots.take("198.51.100.2", None).is_ok(), "another address is not");
        held.pop();
        assert!(slots.take("198.51.100.1", None).is_ok(), "a closed stream gives its slot back");
        let tokens: Vec<Slot> = (0..MAX_STREAMS_PER_TOKEN)
            .filter_map(|i| slots.take(&format!("203.0.113.{i}"), Some(7)).ok())
            .collect();
        assert_eq!(tokens.len(), MAX_STREAMS_PER_TOKEN);
        assert!(slots.take("203.0.113.200", Some(7)).is_err(), "the token is full from any address");
        drop(tokens);
        drop(held);
        assert_eq!(slots.open(), 0);
    }
}
