//! `exportTo` visibility: `*` all, `.` own namespace, `~` none, or namespace names.

use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportTo {
    All,
    /// An empty set is `~`: visible nowhere.
    Namespaces(BTreeSet<String>),
}

impl ExportTo {
    /// Resolves an object's `exportTo` list; an empty list falls back to the
    /// MeshConfig default for its kind, and an empty default means `*`.
    pub fn resolve<S: AsRef<str>, D: AsRef<str>>(entries: &[S], default: &[D], own_namespace: &str) -> ExportTo {
        if entries.is_empty() {
            if default.is_empty() {
                return ExportTo::All;
            }
            return Self::from_entries(default.iter().map(AsRef::as_ref), own_namespace);
        }
        Self::from_entries(entries.iter().map(AsRef::as_ref), own_namespace)
    }

    fn from_entries<'a>(entries: impl Iterator<Item = &'a str>, own_namespace: &str) -> ExportTo {
        let mut set = BTreeSet::new();
        for e in entries {
            match e {
                "*" => return ExportTo::All,
                "~" => {}
                "." => {
                    set.insert(own_namespace.to_string());
                }
                ns => {
                    set.insert(ns.to_string());
                }
            }
        }
        ExportTo::Namespaces(set)
    }

    pub fn visible_to(&self, namespace: &str) -> bool {
        match self {
            ExportTo::All => true,
            ExportTo::Namespaces(set) => set.contains(namespace),
        }
    }

    /// Whether some namespace sees both.
    pub fn overlaps(&self, other: &ExportTo) -> bool {
        match (self, other) {
            (ExportTo::All, ExportTo::All) => true,
            (ExportTo::All, ExportTo::Namespaces(s)) | (ExportTo::Namespaces(s), ExportTo::All) => !s.is_empty(),
            (ExportTo::Namespaces(a), ExportTo::Namespaces(b)) => a.intersection(b).next().is_some(),
        }
    }

    /// The namespaces whose clients use an object exported like this (product.md §4):
    /// its own namespace when exported there, otherwise the namespaces it is exported
    /// to. An object exported nowhere is judged from its own namespace.
    pub fn client_namespaces(&self, own_namespace: &str) -> Vec<String> {
        match self {
            ExportTo::Namespaces(set) if !set.contains(own_namespace) && !set.is_empty() => {
                set.iter().cloned().collect()
            }
            _ => vec![own_namespace.to_string()],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ExportTo::All => "all namespaces".to_string(),
            ExportTo::Namespaces(s) if s.is_empty() => "no namespace".to_string(),
            ExportTo::Namespaces(s) => {
                let names: Vec<&str> = s.iter().map(String::as_str).collect();
                format!("namespaces [{}]", names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: &[&str] = &[];

    #[test]
    fn dot_star_tilde_and_names() {
        let dot = ExportTo::resolve(&["."], NONE, "a");
        assert!(dot.visible_to("a"));
        assert!(!dot.visible_to("b"));
        let star = ExportTo::resolve(&["*"], NONE, "a");
        assert!(star.visible_to("zzz"));
        let none = ExportTo::resolve(&["~"], NONE, "a");
        assert!(!none.visible_to("a"));
        let named = ExportTo::resolve(&["b", "c"], NONE, "a");
        assert!(named.visible_to("b") && named.visible_to("c") && !named.visible_to("a"));
    }

    #[test]
    fn empty_list_uses_mesh_default_then_star() {
        assert_eq!(ExportTo::resolve(NONE, NONE, "a"), ExportTo::All);
        let d = ExportTo::resolve(NONE, &["."], "a");
        assert!(d.visible_to("a") && !d.visible_to("b"));
        // An explicit list wins over the mesh default.
        assert!(ExportTo::resolve(&["*"], &["."], "a").visible_to("b"));
    }

    #[test]
    fn overlap() {
        let all = ExportTo::All;
        let a = ExportTo::resolve(&["."], NONE, "a");
        let b = ExportTo::resolve(&["."], NONE, "b");
        let none = ExportTo::resolve(&["~"], NONE, "a");
        assert!(all.overlaps(&a));
        assert!(!a.overlaps(&b));
        assert!(!none.overlaps(&all));
        assert!(ExportTo::resolve(&["a", "b"], NONE, "x").overlaps(&b));
    }

    #[test]
    fn clients_are_own_namespace_when_exported_there() {
        assert_eq!(ExportTo::All.client_namespaces("a"), ["a"]);
        let elsewhere = ExportTo::resolve(&["b", "c"], NONE, "a");
        assert_eq!(elsewhere.client_namespaces("a"), ["b", "c"]);
        let none = ExportTo::resolve(&["~"], NONE, "a");
        assert_eq!(none.client_namespaces("a"), ["a"]);
    }
}
