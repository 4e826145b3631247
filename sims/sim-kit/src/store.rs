//! The world store: every object of a simulated cloud under its key (its API path), in one
//! ordered map, with the seeded random source ids and faults are drawn from. A simulator
//! wraps it in its own world (derefs to it) with its object type and lifecycle.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::serve::lock;

/// The objects of a simulated cloud and the source of everything random about them.
#[derive(Debug)]
pub struct Store<O> {
    /// Every object, by key (its API path; ordered, so a collection is a key range).
    pub objects: BTreeMap<String, O>,
    /// The time one asynchronous step takes.
    pub step: Duration,
    /// The one random source (seeded: a seed replays the same ids and faults).
    pub rng: StdRng,
    seq: u64,
}

impl<O> Store<O> {
    /// An empty store whose steps take `step`, seeded if `seed` is given.
    pub fn new(step: Duration, seed: Option<u64>) -> Self {
        Store {
            objects: BTreeMap::new(),
            step,
            rng: match seed {
                Some(s) => StdRng::seed_from_u64(s),
                None => StdRng::from_os_rng(),
            },
            seq: 0,
        }
    }

    /// The next number of a sequence that starts at 1.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A random fraction in `[0, 1)`.
    pub fn roll(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// A random version-4 UUID.
    pub fn uuid(&mut self) -> String {
        let a: u32 = self.rng.random();
        let b: u16 = self.rng.random();
        let c: u16 = (self.rng.random::<u16>() & 0x0fff) | 0x4000;
        let d: u16 = (self.rng.random::<u16>() & 0x3fff) | 0x8000;
        let e: u64 = self.rng.random::<u64>() & 0xffff_ffff_ffff;
        format!("{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}")
    }

    /// `n` random lowercase hexadecimal digits.
    pub fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.rng.random_range(0..16u32), 16).unwrap_or('0'))
            .collect()
    }

    /// `n` characters drawn from `alphabet` (ASCII).
    pub fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[self.rng.random_range(0..alphabet.len())]))
            .collect()
    }

    pub fn get(&self, key: &str) -> Option<&O> {
        self.objects.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut O> {
        self.objects.get_mut(key)
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub fn prefixed<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a O)> + 'a {
        self.objects
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// The objects directly under the collection `path` (keys `path/x`, not `path/x/y`).
    pub fn children<'a>(&'a self, path: &'a str) -> impl Iterator<Item = (&'a String, &'a O)> + 'a {
        let prefix = format!("{path}/");
        self.objects
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .filter(move |(k, _)| !k[path.len() + 1..].contains('/'))
    }

    /// Removes the object at `key` and everything under it (`key/…`).
    pub fn remove_tree(&mut self, key: &str) {
        let prefix = format!("{key}/");
        self.objects
            .retain(|k, _| k != key && !k.starts_with(&prefix));
    }
}

/// Makes a simulator's world (a struct with a field `store: Store<Obj>`) deref to its store,
/// so that `w.objects`, `w.uuid()`, `w.step` read as the world's own:
/// `sim_kit::world_store!(World, Obj);`.
#[macro_export]
macro_rules! world_store {
    ($world:ty, $obj:ty) => {
        impl ::std::ops::Deref for $world {
            type Target = $crate::Store<$obj>;
            fn deref(&self) -> &Self::Target {
                &self.store
            }
        }

        impl ::std::ops::DerefMut for $world {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.store
            }
        }
    };
}

/// The bearer tokens a simulator issued, each with the user it was issued to.
#[derive(Debug, Default)]
pub struct Tokens {
    users: Mutex<HashMap<String, String>>,
}

impl Tokens {
    /// Remembers `token` as issued to `user`.
    pub fn issue(&self, token: String, user: &str) {
        lock(&self.users).insert(token, user.to_string());
    }

    /// The user a token was issued to, if it was.
    pub fn user(&self, token: &str) -> Option<String> {
        lock(&self.users).get(token).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store<u32> {
        let mut s = Store::new(Duration::from_millis(1), Some(1));
        for (i, k) in ["a", "a/1", "a/1/x", "a/2", "ab", "b"].iter().enumerate() {
            s.objects.insert((*k).to_string(), i as u32);
        }
        s
    }

    #[test]
    fn collections_are_key_ranges() {
        let s = store();
        let children: Vec<&str> = s.children("a").map(|(k, _)| k.as_str()).collect();
        assert_eq!(children, ["a/1", "a/2"]);
        let prefixed: Vec<&str> = s.prefixed("a/1").map(|(k, _)| k.as_str()).collect();
        assert_eq!(prefixed, ["a/1", "a/1/x"]);
        let mut s = s;
        s.remove_tree("a");
        let left: Vec<&str> = s.objects.keys().map(String::as_str).collect();
        assert_eq!(left, ["ab", "b"]);
    }

    #[test]
    fn a_seed_replays_the_same_draws() {
        let (mut a, mut b) = (store(), store());
        assert_eq!(a.uuid(), b.uuid());
        assert_eq!(a.hex(8), b.hex(8));
        assert_eq!(a.pick(b"xyz", 5), b.pick(b"xyz", 5));
        assert_eq!(a.roll(), b.roll());
        assert_eq!((a.next_seq(), a.next_seq()), (1, 2));
        let id = a.uuid();
        assert_eq!((id.len(), &id[14..15]), (36, "4"));
    }
}
