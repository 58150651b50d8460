//! A finding is data: what is wrong, where (a JSON pointer into the object), and how bad.

use jsonptr::PointerBuf;
use serde::{Deserialize, Serialize};

use crate::checks::catalog::Check;
use crate::model::{Kind, ObjKey};

/// Ordered so that `Info < Warning < Error`, which is what thresholds compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity {other:?} (expected error, warning or info)")),
        }
    }
}

/// One problem found on one field of one object. The field order here is the
/// stable JSON contract of `meshgate check -o json` (product.md §1.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub pointer: PointerBuf,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The object whose absence (or whose current shape) this finding is about,
    /// when another object of the same batch could fix it: what admission may
    /// not deny on in a dry run, what a live read-through reads before a denial,
    /// and what the GitOps apply order is judged on. Not part of the JSON contract.
    #[serde(skip)]
    pub referent: Option<Referent>,
}

/// What a finding refers to (product.md §3 "Batches and replicas").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Referent {
    /// One named object: a Gateway, a delegate, the Service a host names.
    Object(ObjKey),
    /// Some object of `kind` in one of `namespaces` (empty: any namespace) whose
    /// name the finding cannot tell: a DestinationRule defining a subset, a
    /// ServiceEntry declaring a host.
    AnyOf { kind: Kind, namespaces: Vec<String> },
}

impl Referent {
    pub fn kind(&self) -> Kind {
        match self {
            Referent::Object(k) => k.kind,
            Referent::AnyOf { kind, .. } => *kind,
        }
    }
}

impl std::fmt::Display for Referent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Referent::Object(k) => write!(f, "{k}"),
            Referent::AnyOf { kind, namespaces } if namespaces.is_empty() => write!(f, "a {kind}"),
            Referent::AnyOf { kind, namespaces } => write!(f, "a {kind} in {}", namespaces.join(" or ")),
        }
    }
}

impl Finding {
    /// A finding of `check` at its default severity.
    pub fn new(check: &Check, subject: &ObjKey, pointer: PointerBuf, message: String) -> Self {
        Finding {
            code: check.code,
            severity: check.severity,
            kind: subject.kind.as_str().to_string(),
            namespace: subject.namespace.to_string(),
            name: subject.name.to_string(),
            pointer,
            message,
            file: None,
            line: None,
            referent: None,
        }
    }

    pub fn with_referent(mut self, referent: ObjKey) -> Self {
        self.referent = Some(Referent::Object(referent));
        self
    }

    pub fn with_referents_of(mut self, kind: Kind, namespaces: Vec<String>) -> Self {
        self.referent = Some(Referent::AnyOf { kind, namespaces });
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// `MG0101 /spec/gateways/0: gateway "istio-system/public" not found`: the line
    /// format of admission messages (product.md §3).
    pub fn headline(&self) -> String {
        format!("{} {}: {}", self.code, self.pointer, self.message)
    }
}

/// Builds a pointer from a base and further tokens: `ptr(&base, ["route", "0"])`.
pub fn ptr<'t, I>(base: &jsonptr::Pointer, tokens: I) -> PointerBuf
where
    I: IntoIterator,
    I::Item: Into<jsonptr::Token<'t>>,
{
    let mut p = base.to_buf();
    for t in tokens {
        p.push_back(t);
    }
    p
}

/// Parses a static pointer literal; the literals in this crate are known good.
pub fn pointer(s: &str) -> PointerBuf {
    PointerBuf::parse(s).unwrap_or_default()
}
