//! The names istiod gives the Envoy objects it generates, as `istioctl
//! proxy-config` shows them: findings and `meshgate explain` name what the
//! user would look for.

/// An outbound cluster (`model.BuildSubsetKey`): `outbound|9080|v1|reviews.shop.svc.cluster.local`.
pub fn outbound_cluster(port: u32, subset: &str, fqdn: &str) -> String {
    format!("outbound|{port}|{subset}|{fqdn}")
}

/// A sidecar's outbound HTTP route configuration: the port number.
pub fn sidecar_route_config(port: u32) -> String {
    port.to_string()
}

/// A gateway's route configuration for its plaintext HTTP servers on a port.
pub fn gateway_http_route_config(port: u32) -> String {
    format!("http.{port}")
}

/// A gateway's route configuration for one HTTPS server it terminates
/// (`gatewayRDSRouteName`: `https.<port>.<port name>.<gateway>.<namespace>`).
pub fn gateway_https_route_config(port: u32, port_name: &str, gateway: &str, namespace: &str) -> String {
    format!("https.{port}.{port_name}.{gateway}.{namespace}")
}

/// A virtual host: `host:port`.
pub fn virtual_host(host: &str, port: u32) -> String {
    format!("{host}:{port}")
}

/// A gateway's listener on a (workload) port.
pub fn gateway_listener(port: u32) -> String {
    format!("0.0.0.0_{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_istiod() {
        assert_eq!(
            outbound_cluster(9080, "v1", "reviews.shop.svc.cluster.local"),
            "outbound|9080|v1|reviews.shop.svc.cluster.local"
        );
        assert_eq!(outbound_cluster(80, "", "a.b"), "outbound|80||a.b");
        assert_eq!(sidecar_route_config(9080), "9080");
        assert_eq!(gateway_http_route_config(8080), "http.8080");
        assert_eq!(
            gateway_https_route_config(443, "https", "public", "istio-system"),
            "https.443.https.public.istio-system"
        );
        assert_eq!(virtual_host("shop.example.com", 80), "shop.example.com:80");
        assert_eq!(gateway_listener(8443), "0.0.0.0_8443");
    }
}
