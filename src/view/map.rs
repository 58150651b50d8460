//! The view's hash maps, in one of two storages chosen when the view is made.
//!
//! `serve` shares its view as snapshots: every write copies the view, so the
//! maps must be persistent (imbl: a clone shares all structure, a write copies
//! one path). `check` builds its view once and only reads it: there std's
//! maps fill and answer about twice as fast as imbl's trie, in less memory
//! (88,000 objects: 0.12 s less CPU, 30 MiB less), and a clone, which nothing
//! on that path does but `--proxy-version`'s one comparison view, copies all.
//! Both storages give the same answers; iteration order is arbitrary in both.

use std::borrow::Borrow;
use std::hash::Hash;

type Hasher = foldhash::fast::RandomState;

/// How a view stores its maps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Storage {
    /// Cheap to clone, for views shared as snapshots (`serve`).
    #[default]
    Persistent,
    /// Cheap to fill and to read, for views built once (`check`).
    Plain,
}

/// The view's maps hash with foldhash (seeded per process): SipHash was ~6 % of
/// a review's CPU under load.
#[derive(Clone, Debug)]
pub enum HashMap<K, V> {
    Persistent(imbl::GenericHashMap<K, V, Hasher, imbl::shared_ptr::DefaultSharedPtr>),
    Plain(std::collections::HashMap<K, V, Hasher>),
}

impl<K, V> Default for HashMap<K, V> {
    fn default() -> Self {
        HashMap::Persistent(imbl::GenericHashMap::with_hasher(Hasher::default()))
    }
}

impl<K: Hash + Eq + Clone, V: Clone> HashMap<K, V> {
    pub fn new(storage: Storage) -> Self {
        match storage {
            Storage::Persistent => HashMap::default(),
            Storage::Plain => HashMap::Plain(std::collections::HashMap::default()),
        }
    }

    pub fn storage(&self) -> Storage {
        match self {
            HashMap::Persistent(_) => Storage::Persistent,
            HashMap::Plain(_) => Storage::Plain,
        }
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        match self {
            HashMap::Persistent(m) => m.get(key),
            HashMap::Plain(m) => m.get(key),
        }
    }

    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        match self {
            HashMap::Persistent(m) => m.get_mut(key),
            HashMap::Plain(m) => m.get_mut(key),
        }
    }

    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.get(key).is_some()
    }

    /// Returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self {
            HashMap::Persistent(m) => m.insert(key, value),
            HashMap::Plain(m) => m.insert(key, value),
        }
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        match self {
            HashMap::Persistent(m) => m.remove(key),
            HashMap::Plain(m) => m.remove(key),
        }
    }

    /// The value at `key`, made by `make` when there is none.
    pub fn or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        match self {
            HashMap::Persistent(m) => m.entry(key).or_insert_with(make),
            HashMap::Plain(m) => m.entry(key).or_insert_with(make),
        }
    }

    /// Changes the value at `key` with `change`, first made by `make` when there
    /// is none; the key is copied only then.
    pub fn update_with<Q>(&mut self, key: &Q, make: impl FnOnce() -> V, change: impl FnOnce(&mut V))
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(v) = self.get_mut(key) {
            change(v);
            return;
        }
        let mut v = make();
        change(&mut v);
        self.insert(key.to_owned(), v);
    }

    pub fn or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        self.or_insert_with(key, V::default)
    }

    pub fn len(&self) -> usize {
        match self {
            HashMap::Persistent(m) => m.len(),
            HashMap::Plain(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = (&K, &V)> + '_> {
        match self {
            HashMap::Persistent(m) => Box::new(m.iter()),
            HashMap::Plain(m) => Box::new(m.iter()),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }
}

impl<'a, K: Hash + Eq + Clone, V: Clone> IntoIterator for &'a HashMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Box<dyn Iterator<Item = (&'a K, &'a V)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same operations give the same contents in both storages, and a
    /// clone of either is independent of the original.
    #[test]
    fn both_storages_agree_and_clones_are_independent() {
        for storage in [Storage::Persistent, Storage::Plain] {
            let mut m: HashMap<String, usize> = HashMap::new(storage);
            assert_eq!(m.storage(), storage);
            assert!(m.is_empty());
            for i in 0..1000 {
                *m.or_default(format!("k{}", i % 100)) += 1;
            }
            assert_eq!(m.insert("x".into(), 7), None);
            assert_eq!(m.insert("x".into(), 8), Some(7));
            assert_eq!(m.len(), 101);
            let snapshot = m.clone();
            assert_eq!(m.remove("k5"), Some(10));
            *m.get_mut("k6").unwrap() = 0;
            assert!(!m.contains_key("k5") && snapshot.contains_key("k5"));
            assert_eq!((m.get("k6"), snapshot.get("k6")), (Some(&0), Some(&10)));
            let mut keys: Vec<&String> = snapshot.keys().collect();
            keys.sort();
            assert_eq!(keys.len(), 101);
            assert_eq!(snapshot.values().sum::<usize>(), 1000 + 8);
            assert_eq!(*m.or_insert_with("new".into(), || 3), 3);
            m.update_with("new", || 0, |n| *n += 1);
            m.update_with("newer", || 10, |n| *n += 1);
            assert_eq!((m.get("new"), m.get("newer")), (Some(&4), Some(&11)));
        }
    }
}
