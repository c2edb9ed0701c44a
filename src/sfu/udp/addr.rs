//! Addresses on the shared media socket: how the rest of the server names a peer of a
//! dual-stack socket, and how the socket takes an address of the other family.

use std::net::{IpAddr, SocketAddr};

/// An address as the rest of the server names it: an IPv4 peer of the dual-stack socket (`::`)
/// arrives as an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), which the connections, their
/// candidates and the routes know as plain IPv4.
pub(super) fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// An address as a socket of the family `v6` takes it: IPv4 mapped into IPv6 on an IPv6 socket.
pub(super) fn on_socket(a: SocketAddr, v6: bool) -> SocketAddr {
    match a.ip() {
        IpAddr::V4(ip) if v6 => SocketAddr::new(IpAddr::V6(ip.to_ipv6_mapped()), a.port()),
        _ => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_peers_of_a_dual_stack_socket_are_named_as_ipv4() {
        assert_eq!(
            canonical(at("[::ffff:10.77.0.2]:4000")),
            at("10.77.0.2:4000")
        );
        assert_eq!(canonical(at("10.77.0.2:4000")), at("10.77.0.2:4000"));
        assert_eq!(canonical(at("[fd77::2]:4000")), at("[fd77::2]:4000"));
        assert_eq!(canonical(at("[::1]:4000")), at("[::1]:4000"), "not mapped");
        assert_eq!(
            on_socket(at("10.77.0.2:4000"), true),
            at("[::ffff:10.77.0.2]:4000")
        );
        assert_eq!(on_socket(at("10.77.0.2:4000"), false), at("10.77.0.2:4000"));
        assert_eq!(on_socket(at("[fd77::2]:4000"), true), at("[fd77::2]:4000"));
        for a in ["10.77.0.2:4000", "[fd77::2]:4000"] {
            assert_eq!(canonical(on_socket(at(a), true)), at(a), "{a}: round trip");
        }
    }
}
