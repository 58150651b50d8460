//! Host names: short-name expansion, wildcards, cluster vs external hosts.

use std::borrow::Cow;
use std::net::IpAddr;

pub fn is_wildcard(host: &str) -> bool {
    host.starts_with('*')
}

pub fn is_ip(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

/// A host with no dot (and not `*`, not an IP) is a short name, expanded relative
/// to `namespace`; anything with a dot is literal (`reviews.prod` is *not* expanded).
pub fn resolve<'h>(host: &'h str, namespace: &str, cluster_domain: &str) -> Cow<'h, str> {
    if host.is_empty() || host == "*" || host.contains('.') || is_ip(host) {
        Cow::Borrowed(host)
    } else {
        Cow::Owned(format!("{host}.{namespace}.svc.{cluster_domain}"))
    }
}

/// The FQDN a Service is reachable at.
pub fn service_fqdn(name: &str, namespace: &str, cluster_domain: &str) -> String {
    format!("{name}.{namespace}.svc.{cluster_domain}")
}

/// The (namespace, name) of the Service a `name.ns.svc.<domain>` FQDN names.
pub fn service_of<'h>(fqdn: &'h str, cluster_domain: &str) -> Option<(&'h str, &'h str)> {
    let rest = fqdn.strip_suffix(cluster_domain)?.strip_suffix(".svc.")?;
    let (name, ns) = rest.split_once('.')?;
    (!name.is_empty() && !ns.is_empty() && !ns.contains('.')).then_some((ns, name))
}

/// A cluster host is a short name or ends in `.svc.<clusterDomain>`.
pub fn is_cluster_host(host: &str, cluster_domain: &str) -> bool {
    if !host.contains('.') {
        return !is_ip(host) && host != "*";
    }
    host.strip_suffix(cluster_domain)
        .is_some_and(|rest| rest.ends_with(".svc."))
}

/// Whether wildcard `pattern` covers `host`. Only a leading `*` is a wildcard:
/// `*.foo.com` covers `a.foo.com` and `a.b.foo.com` but not `foo.com`; `*` covers all.
pub fn wildcard_covers(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        None => pattern == host,
        Some("") => true,
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
    }
}

/// Whether two host patterns can name a common host (each may be a wildcard),
/// as Gateway server hosts and VirtualService hosts are matched.
pub fn intersect(a: &str, b: &str) -> bool {
    match (is_wildcard(a), is_wildcard(b)) {
        (false, false) => a == b,
        (true, false) => wildcard_covers(a, b),
        (false, true) => wildcard_covers(b, a),
        (true, true) => {
            let (sa, sb) = (&a[1..], &b[1..]);
            sa.ends_with(sb) || sb.ends_with(sa)
        }
    }
}

/// The wildcard patterns that could cover `host`, most specific first:
/// `a.b.c` → `*.b.c`, `*.c`, `*`. Lets a wildcard lookup be a few hash lookups.
pub fn covering_wildcards(host: &str) -> impl Iterator<Item = String> + '_ {
    let start = usize::from(host.starts_with('*'));
    let body = &host[start..];
    body.match_indices('.')
        .filter(move |(i, _)| start == 0 || *i > 0)
        .map(move |(i, _)| format!("*{}", &body[i..]))
        .chain(std::iter::once("*".to_string()))
        .filter(move |w| w != host)
}

/// Labels reversed (`a.foo.com` → `com.foo.a`), so that all hosts under a domain
/// form one range of an ordered map.
pub fn reversed(host: &str) -> String {
    let mut labels: Vec<&str> = host.split('.').collect();
    labels.reverse();
    labels.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "cluster.local";

    #[test]
    fn short_names_expand_and_dotted_names_stay_literal() {
        assert_eq!(resolve("reviews", "prod", D), "reviews.prod.svc.cluster.local");
        assert_eq!(resolve("reviews.prod", "default", D), "reviews.prod");
        assert_eq!(
            resolve("reviews.prod.svc.cluster.local", "default", D),
            "reviews.prod.svc.cluster.local"
        );
        assert_eq!(resolve("*", "prod", D), "*");
        assert_eq!(resolve("*.foo.com", "prod", D), "*.foo.com");
        assert_eq!(resolve("10.0.0.1", "prod", D), "10.0.0.1");
        assert_eq!(resolve("::1", "prod", D), "::1");
        assert_eq!(
            resolve("reviews", "prod", "corp.example"),
            "reviews.prod.svc.corp.example"
        );
    }

    #[test]
    fn cluster_hosts() {
        assert!(is_cluster_host("reviews", D));
        assert!(is_cluster_host("reviews.prod.svc.cluster.local", D));
        assert!(!is_cluster_host("reviews.prod", D));
        assert!(!is_cluster_host("httpbin.org", D));
        assert!(!is_cluster_host("svc.cluster.local.evil.com", D));
        assert!(!is_cluster_host("*", D));
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        assert!(wildcard_covers("*.foo.com", "a.foo.com"));
        assert!(wildcard_covers("*.foo.com", "a.b.foo.com"));
        assert!(!wildcard_covers("*.foo.com", "foo.com"));
        assert!(!wildcard_covers("*.foo.com", "afoo.com"));
        assert!(wildcard_covers("*", "anything.at.all"));
        assert!(wildcard_covers("a.foo.com", "a.foo.com"));
        assert!(!wildcard_covers("a.foo.com", "b.foo.com"));
    }

    #[test]
    fn intersection_is_symmetric_over_wildcards() {
        assert!(intersect("*.foo.com", "a.foo.com"));
        assert!(intersect("a.foo.com", "*.foo.com"));
        assert!(intersect("*.foo.com", "*.a.foo.com"));
        assert!(intersect("*", "x.y"));
        assert!(!intersect("*.bar.com", "a.foo.com"));
        assert!(!intersect("a.com", "b.com"));
    }

    #[test]
    fn covering_wildcards_are_most_specific_first() {
        let w: Vec<String> = covering_wildcards("a.b.c").collect();
        assert_eq!(w, ["*.b.c", "*.c", "*"]);
        let w: Vec<String> = covering_wildcards("*.b.c").collect();
        assert_eq!(w, ["*.c", "*"]);
        let w: Vec<String> = covering_wildcards("*").collect();
        assert!(w.is_empty());
    }

    #[test]
    fn service_of_fqdn() {
        assert_eq!(
            service_of("reviews.prod.svc.cluster.local", D),
            Some(("prod", "reviews"))
        );
        assert_eq!(service_of("reviews.prod", D), None);
        assert_eq!(service_of("a.b.c.svc.cluster.local", D), None);
    }

    #[test]
    fn reversal_groups_domains() {
        assert_eq!(reversed("a.foo.com"), "com.foo.a");
    }
}
