//! A set of object keys for index postings. Almost every posting holds one key
//! (one Service per host, one VirtualService per gateway reference), and a
//! persistent B-tree node per one-element set would cost hundreds of bytes; so
//! one key is stored inline and only larger sets use `imbl::OrdSet`.

use std::sync::Arc;

use crate::model::ObjKey;

#[derive(Clone, Debug, Default)]
pub enum KeySet {
    #[default]
    Empty,
    One(Arc<ObjKey>),
    Many(imbl::OrdSet<Arc<ObjKey>>),
}

impl KeySet {
    pub fn insert(&mut self, key: Arc<ObjKey>) {
        match self {
            KeySet::Empty => *self = KeySet::One(key),
            KeySet::One(k) if *k == key => {}
            KeySet::One(k) => {
                let set: imbl::OrdSet<Arc<ObjKey>> = [k.clone(), key].into_iter().collect();
                *self = KeySet::Many(set);
            }
            KeySet::Many(set) => {
                set.insert(key);
            }
        }
    }

    pub fn remove(&mut self, key: &Arc<ObjKey>) {
        match self {
            KeySet::One(k) if k == key => *self = KeySet::Empty,
            KeySet::Many(set) => {
                set.remove(key);
                if set.len() == 1 {
                    let only = set.iter().next().cloned();
                    if let Some(only) = only {
                        *self = KeySet::One(only);
                    }
                }
            }
            _ => {}
        }
    }

    pub fn len(&self) -> usize {
        match self {
            KeySet::Empty => 0,
            KeySet::One(_) => 1,
            KeySet::Many(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, key: &Arc<ObjKey>) -> bool {
        match self {
            KeySet::Empty => false,
            KeySet::One(k) => k == key,
            KeySet::Many(s) => s.contains(key),
        }
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = &Arc<ObjKey>> + '_> {
        match self {
            KeySet::Empty => Box::new(std::iter::empty()),
            KeySet::One(k) => Box::new(std::iter::once(k)),
            KeySet::Many(s) => Box::new(s.iter()),
        }
    }
}

impl<'a> IntoIterator for &'a KeySet {
    type Item = &'a Arc<ObjKey>;
    type IntoIter = Box<dyn Iterator<Item = &'a Arc<ObjKey>> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn grows_and_shrinks() {
        let k = |n: &str| Arc::new(ObjKey::new(Kind::Service, "ns", n));
        let mut s = KeySet::default();
        s.insert(k("a"));
        s.insert(k("a"));
        assert!(matches!(s, KeySet::One(_)));
        s.insert(k("b"));
        s.insert(k("c"));
        assert_eq!(s.len(), 3);
        assert!(s.contains(&k("b")));
        s.remove(&k("b"));
        s.remove(&k("c"));
        assert!(matches!(s, KeySet::One(ref only) if only.name == "a"));
        s.remove(&k("a"));
        assert!(s.is_empty());
        assert_eq!(s.iter().count(), 0);
    }
}
