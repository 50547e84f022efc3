//! The shop's state: which bearer tokens `/login` issued and the cart ETag last issued for each.
//!
//! Sharded maps behind short `std` mutexes (no await while held). The store is bounded so a
//! long benchmark of logins cannot grow it without end: each shard keeps two generations and
//! drops the older one when the newer fills, so only long-unused tokens are forgotten.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A bearer token as issued: 128 random bits, written as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Token(u128);

impl Token {
    fn fresh() -> Self {
        Token(rand::random())
    }

    /// Reads a token as written by `Display`; anything else is not a token.
    pub(crate) fn parse(text: &str) -> Option<Token> {
        if text.len() != 32 || !text.bytes().all(is_lower_hex) {
            return None;
        }
        u128::from_str_radix(text, 16).ok().map(Token)
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// A cart version as sent in the `ETag` header: 16 lowercase hex digits, unquoted so that a
/// plan can put the captured value straight into the `/pay/{etag}` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Etag(u64);

impl Etag {
    /// Reads an ETag from a path segment; surrounding quotes (raw or `%22`) are tolerated.
    pub(crate) fn parse(text: &str) -> Option<Etag> {
        let unquoted = strip_quotes(text);
        if unquoted.len() != 16 || !unquoted.bytes().all(is_lower_hex) {
            return None;
        }
        u64::from_str_radix(unquoted, 16).ok().map(Etag)
    }
}

fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

fn strip_quotes(text: &str) -> &str {
    for quote in ["\"", "%22"] {
        if let Some(inner) = text
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    text
}

impl std::fmt::Display for Etag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Session {
    cart: Option<Etag>,
}

#[derive(Default)]
struct Shard {
    current: HashMap<Token, Session>,
    previous: HashMap<Token, Session>,
}

impl Shard {
    /// The session of `token`, moved into the current generation when found in the older one.
    fn session(&mut self, token: Token, generation_cap: usize) -> Option<&mut Session> {
        if !self.current.contains_key(&token) {
            let old = self.previous.remove(&token)?;
            self.insert(token, old, generation_cap);
        }
        self.current.get_mut(&token)
    }

    fn insert(&mut self, token: Token, session: Session, generation_cap: usize) {
        if self.current.len() >= generation_cap {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(token, session);
    }
}

/// What `/pay` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payment {
    Paid {
        order: u64,
    },
    UnknownToken,
    /// The token is known but the ETag is not the one last issued for it (or none was).
    EtagMismatch,
}

pub(crate) struct Shop {
    shards: Box<[Mutex<Shard>]>,
    generation_cap: usize,
    next_order: AtomicU64,
}

const SHARDS: usize = 16;
/// Per shard and generation: at most about 2 * 16 * 32768 = 1M live tokens.
const DEFAULT_GENERATION_CAP: usize = 32_768;

impl Shop {
    pub(crate) fn new() -> Self {
        Self::with_generation_cap(DEFAULT_GENERATION_CAP)
    }

    fn with_generation_cap(generation_cap: usize) -> Self {
        Shop {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            generation_cap: generation_cap.max(1),
            next_order: AtomicU64::new(1),
        }
    }

    fn shard(&self, token: Token) -> MutexGuard<'_, Shard> {
        // The low bits of a random token spread evenly.
        let index = (token.0 % SHARDS as u128) as usize;
        // A poisoned shard only means a panic elsewhere mid-update of plain data: keep serving.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn login(&self) -> Token {
        let token = Token::fresh();
        self.shard(token)
            .insert(token, Session::default(), self.generation_cap);
        token
    }

    /// Issues a fresh cart ETag for a known token (replacing the previous one).
    pub(crate) fn cart(&self, token: Token) -> Option<Etag> {
        let etag = Etag(rand::random());
        let mut shard = self.shard(token);
        let session = shard.session(token, self.generation_cap)?;
        session.cart = Some(etag);
        Some(etag)
    }

    /// Pays the cart: the ETag must be the one last issued for this token; it is used up.
    pub(crate) fn pay(&self, token: Token, etag: Option<Etag>) -> Payment {
        let mut shard = self.shard(token);
        let Some(session) = shard.session(token, self.generation_cap) else {
            return Payment::UnknownToken;
        };
        match (session.cart, etag) {
            (Some(issued), Some(given)) if issued == given => {
                session.cart = None;
                drop(shard);
                Payment::Paid {
                    order: self.next_order.fetch_add(1, Ordering::Relaxed),
                }
            }
            _ => Payment::EtagMismatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn journey_login_cart_pay() {
        let shop = Shop::new();
        let token = shop.login();
        let etag = shop.cart(token).expect("token was issued");
        assert!(matches!(shop.pay(token, Some(etag)), Payment::Paid { .. }));
        // The ETag is used up by paying.
        assert_eq!(shop.pay(token, Some(etag)), Payment::EtagMismatch);
    }

    #[test]
    fn only_the_latest_etag_pays() {
        let shop = Shop::new();
        let token = shop.login();
        let first = shop.cart(token).expect("token was issued");
        let second = shop.cart(token).expect("token was issued");
        assert_eq!(shop.pay(token, Some(first)), Payment::EtagMismatch);
        assert!(matches!(
            shop.pay(token, Some(second)),
            Payment::Paid { .. }
        ));
    }

    #[test]
    fn etag_of_another_token_does_not_pay() {
        let shop = Shop::new();
        let alice = shop.login();
        let bob = shop.login();
        let alice_cart = shop.cart(alice).expect("token was issued");
        shop.cart(bob).expect("token was issued");
        assert_eq!(shop.pay(bob, Some(alice_cart)), Payment::EtagMismatch);
    }

    #[test]
    fn unknown_tokens_are_refused() {
        let shop = Shop::new();
        let stranger = Token(42);
        assert_eq!(shop.cart(stranger), None);
        assert_eq!(shop.pay(stranger, None), Payment::UnknownToken);
    }

    #[test]
    fn orders_are_numbered_in_sequence() {
        let shop = Shop::new();
        let mut orders = Vec::new();
        for _ in 0..3 {
            let token = shop.login();
            let etag = shop.cart(token).expect("token was issued");
            if let Payment::Paid { order } = shop.pay(token, Some(etag)) {
                orders.push(order);
            }
        }
        assert_eq!(orders, vec![1, 2, 3]);
    }

    #[test]
    fn the_store_is_bounded_and_forgets_the_oldest_tokens() {
        let cap = 4;
        let shop = Shop::with_generation_cap(cap);
        let tokens: Vec<Token> = (0..SHARDS * cap * 4).map(|_| shop.login()).collect();
        let live: usize = shop
            .shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(|p| p.into_inner());
                s.current.len() + s.previous.len()
            })
            .sum();
        assert!(live <= SHARDS * cap * 2, "{live} tokens kept");
        // The most recent token is still known.
        let last = tokens[tokens.len() - 1];
        assert!(shop.cart(last).is_some());
    }

    #[test]
    fn a_used_token_survives_a_generation_change() {
        let cap = 2;
        let shop = Shop::with_generation_cap(cap);
        let kept = shop.login();
        for _ in 0..SHARDS * cap * 8 {
            shop.login();
            // Touching the token keeps it in the current generation.
            assert!(shop.cart(kept).is_some());
        }
    }

    proptest! {
        #[test]
        fn token_text_round_trips(bits: u128) {
            let token = Token(bits);
            prop_assert_eq!(Token::parse(&token.to_string()), Some(token));
        }

        #[test]
        fn etag_text_round_trips_with_or_without_quotes(bits: u64) {
            let etag = Etag(bits);
            let text = etag.to_string();
            prop_assert_eq!(Etag::parse(&text), Some(etag));
            prop_assert_eq!(Etag::parse(&format!("\"{text}\"")), Some(etag));
            prop_assert_eq!(Etag::parse(&format!("%22{text}%22")), Some(etag));
        }

        #[test]
        fn malformed_tokens_are_rejected(text in "[^0-9a-f]{0,40}|[0-9a-f]{0,31}|[0-9a-f]{33,40}") {
            prop_assert_eq!(Token::parse(&text), None);
        }
    }
}
