//! Who is on the other end of a request: the peer, or, when the peer is one of our own
//! reverse proxies (`TRUSTED_PROXIES`), the client it forwards for.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::AppState;
use crate::config::TrustedProxies;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address; `None` when the server was not told the peer's.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(resolve(
            &parts.extensions,
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

pub fn resolve(
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()?
        .0
        .ip()
        .to_canonical();
    Some(forwarded_client(peer, headers, trusted))
}

/// Walks `X-Forwarded-For` from the right, past our own proxies: each hop appends the
/// address it received from, so the right-most address not ours is the last one that no
/// proxy of ours could have made up. Anything left of it may be forged by the client.
fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    if !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(addr) = hop.trim().parse::<IpAddr>() else {
            // A hop we cannot read ends what we can believe.
            break;
        };
        client = addr.to_canonical();
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(peer: &str, forwarded: &[&str], trusted: &str) -> IpAddr {
        let trusted = TrustedProxies::parse(Some(trusted)).unwrap();
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        forwarded_client(peer.parse().unwrap(), &headers, &trusted)
    }

    #[test]
    fn the_right_most_address_not_ours_is_the_client() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client("10.0.0.1", &["1.1.1.1, 2.2.2.2"], "10.0.0.0/8"),
            ip("2.2.2.2")
        );
        assert_eq!(
            client("10.0.0.1", &["1.1.1.1", "2.2.2.2, 10.0.0.9"], "10.0.0.0/8"),
            ip("2.2.2.2")
        );
        assert_eq!(client("10.0.0.1", &[], "10.0.0.0/8"), ip("10.0.0.1"));
        assert_eq!(
            client("10.0.0.1", &["junk, 10.0.0.2"], "10.0.0.0/8"),
            ip("10.0.0.2")
        );
        assert_eq!(
            client("::ffff:10.0.0.1", &["3.3.3.3"], "10.0.0.1"),
            ip("3.3.3.3")
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client("8.8.8.8", &["1.1.1.1"], "10.0.0.0/8"), ip("8.8.8.8"));
        assert_eq!(client("8.8.8.8", &["1.1.1.1"], ""), ip("8.8.8.8"));
    }
}
