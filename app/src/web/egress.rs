//! The only way out for yt-dlp: a forward proxy on a private loopback port, started
//! for one fetch and stopped with it. yt-dlp gets `--proxy` (and its children the
//! `http_proxy` family of variables), so every connection it makes, redirects
//! included, is a request to this proxy. For each one the proxy resolves the host
//! itself, checks every address against the [`Policy`], and connects only to an
//! address it checked; a refused host gets `403` and is recorded, so the fetch can
//! answer 400 saying which host was refused and why. Nothing is ever sent to a
//! refused address: the check comes before the connection.
//!
//! Requests: `CONNECT host:port` (HTTPS, tunnelled unread) and absolute-form
//! `GET http://host/...` (plain HTTP, forwarded with `Connection: close`). Bytes
//! coming back are capped per connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::netpolicy::Policy;

/// Largest request head (request line and headers) read from yt-dlp.
const MAX_HEAD: usize = 64 * 1024;
/// Longest wait for a request head, or for a connection to open.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running proxy; stopped (every connection dropped) when dropped.
pub struct Egress {
    addr: SocketAddr,
    refused: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Egress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Egress {
    /// Listen on a free loopback port. `cap`: bytes passed back per connection.
    pub async fn start(policy: Policy, cap: u64) -> std::io::Result<Egress> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let refused = Arc::new(Mutex::new(Vec::new()));
        let rec = refused.clone();
        let task = tokio::spawn(async move {
            // Dropped with this task: every connection ends with the proxy.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        if !peer.ip().is_loopback() {
                            continue;
                        }
                        let (policy, rec) = (policy.clone(), rec.clone());
                        conns.spawn(async move {
                            let _ = serve(stream, &policy, &rec, cap).await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Egress {
            addr,
            refused,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, for `--proxy`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The refusals so far, each saying which host and why.
    pub fn refused(&self) -> Vec<String> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Read up to the end of the head (`\r\n\r\n`): (head, bytes read beyond it).
async fn read_head<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            let head = String::from_utf8(buf).map_err(|_| bad("a head that is not text"))?;
            return Ok((head, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("a request head over 64 KiB"));
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("the connection closed before a request"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// `host` and `port` of an authority `host[:port]` or `[v6][:port]`.
pub fn split_authority(auth: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = auth.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{h}]"), port)
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (auth.to_string(), None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    ok.then_some((host.to_ascii_lowercase(), port))
}

async fn answer(w: &mut TcpStream, status: &str, text: &str) {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = w.write_all(msg.as_bytes()).await;
    let _ = w.shutdown().await;
}

/// One connection from yt-dlp: check, connect to a checked address, relay.
async fn serve(
    mut client: TcpStream,
    policy: &Policy,
    refused: &Mutex<Vec<String>>,
    cap: u64,
) -> std::io::Result<()> {
    let (head, rest) = tokio::time::timeout(STEP_TIMEOUT, read_head(&mut client))
        .await
        .map_err(|_| bad("no request in time"))??;
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or("");
    let mut words = request.split(' ');
    let (method, target, version) = (
        words.next().unwrap_or(""),
        words.next().unwrap_or(""),
        words.next().unwrap_or(""),
    );
    // (host, port, what to send upstream first)
    let (host, port, first): (String, u16, Option<Vec<u8>>) = if method == "CONNECT" {
        match split_authority(target, 443) {
            Some((h, p)) => (h, p, None),
            None => {
                answer(&mut client, "400 Bad Request", "bad CONNECT target").await;
                return Ok(());
            }
        }
    } else {
        let lower = target.to_ascii_lowercase();
        let Some(after) = lower.strip_prefix("http://") else {
            answer(
                &mut client,
                "400 Bad Request",
                "this proxy forwards http:// requests and CONNECT tunnels only",
            )
            .await;
            return Ok(());
        };
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let auth = &target["http://".len()..][..end];
        let path = match &target["http://".len() + end..] {
            "" => "/".to_string(),
            p if p.starts_with('/') => p.to_string(),
            p => format!("/{p}"),
        };
        let parsed = (!auth.contains('@'))
            .then(|| split_authority(auth, 80))
            .flatten();
        let Some((h, p)) = parsed else {
            answer(&mut client, "400 Bad Request", "bad request target").await;
            return Ok(());
        };
        let mut up = format!("{method} {path} {version}\r\n");
        for line in lines.filter(|l| !l.is_empty()) {
            let name = line.split(':').next().unwrap_or("").trim();
            let hop = [
                "connection",
                "proxy-connection",
                "proxy-authorization",
                "keep-alive",
            ];
            if !hop.iter().any(|x| name.eq_ignore_ascii_case(x)) {
                up.push_str(line);
                up.push_str("\r\n");
            }
        }
        up.push_str("Connection: close\r\n\r\n");
        let mut first = up.into_bytes();
        first.extend_from_slice(&rest);
        (h, p, Some(first))
    };
    let addrs = match policy.check(&host, port).await {
        Ok(a) => a,
        Err(why) => {
            let what = format!("{host}:{port}: {why}");
            refused
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(what.clone());
            answer(&mut client, "403 Forbidden", &format!("refused {what}")).await;
            return Ok(());
        }
    };
    let mut upstream = None;
    for a in &addrs {
        // Only addresses the policy has just passed.
        if let Ok(Ok(s)) = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(a)).await {
            upstream = Some(s);
            break;
        }
    }
    let Some(mut upstream) = upstream else {
        answer(
            &mut client,
            "502 Bad Gateway",
            &format!("cannot connect to {host}:{port}"),
        )
        .await;
        return Ok(());
    };
    match first {
        Some(bytes) => upstream.write_all(&bytes).await?,
        None => {
            client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?;
            if !rest.is_empty() {
                upstream.write_all(&rest).await?;
            }
        }
    }
    relay(client, upstream, cap).await;
    Ok(())
}

/// Copy both ways until the upstream side is done (at most `cap` bytes back).
async fn relay<A, B>(client: A, upstream: B, cap: u64)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut ur, mut uw) = tokio::io::split(upstream);
    let up = async {
        let _ = tokio::io::copy(&mut cr, &mut uw).await;
        let _ = uw.shutdown().await;
        std::future::pending::<()>().await
    };
    let down = async {
        let _ = tokio::io::copy(&mut (&mut ur).take(cap), &mut cw).await;
        let _ = cw.shutdown().await;
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::netpolicy::StaticResolver;
    use std::net::IpAddr;

    async fn roundtrip(proxy: &Egress, request: &str) -> String {
        let mut s = TcpStream::connect(proxy.addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A loopback server that answers one request with `body`, and tells what it got.
    async fn origin(body: &'static str) -> (u16, tokio::sync::oneshot::Receiver<String>) {
        let l = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let (head, _) = read_head(&mut s).await.unwrap();
            let _ = tx.send(head);
            let r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(r.as_bytes()).await.unwrap();
        });
        (port, rx)
    }

    fn policy(allow: &[&str]) -> Policy {
        Policy {
            resolver: Arc::new(
                StaticResolver::parse(&[
                    "media.test=127.0.0.1".into(),
                    "inside.test=10.9.8.7".into(),
                    "mixed.test=93.184.215.14,192.168.0.1".into(),
                ])
                .unwrap(),
            ),
            allow: allow.iter().map(|s| s.parse::<IpAddr>().unwrap()).collect(),
        }
    }

    #[tokio::test]
    async fn refused_hosts_get_403_and_are_recorded_before_any_connection() {
        let p = Egress::start(policy(&[]), 1 << 20).await.unwrap();
        // A loopback origin that must never be reached (it is not allowlisted).
        let (port, mut got) = origin("secret").await;
        for (req, says) in [
            (
                format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n"),
                "loopback",
            ),
            (
                format!("CONNECT media.test:{port} HTTP/1.1\r\n\r\n"),
                "loopback",
            ),
            (
                "CONNECT inside.test:443 HTTP/1.1\r\n\r\n".to_string(),
                "private",
            ),
            (
                "GET http://mixed.test/x HTTP/1.1\r\n\r\n".to_string(),
                "192.168.0.1",
            ),
            (
                "CONNECT [::ffff:127.0.0.1]:443 HTTP/1.1\r\n\r\n".to_string(),
                "IPv4",
            ),
            (
                "GET http://nowhere.test/ HTTP/1.1\r\n\r\n".to_string(),
                "cannot be resolved",
            ),
        ] {
            let r = roundtrip(&p, &req).await;
            assert!(r.starts_with("HTTP/1.1 403"), "{req}: {r}");
            assert!(r.contains(says), "{req}: {r}");
        }
        assert_eq!(p.refused().len(), 6);
        assert!(got.try_recv().is_err(), "the origin was never contacted");
        let r = roundtrip(&p, "GET ftp://x/ HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        let r = roundtrip(&p, "GET http://user@media.test/ HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    }

    #[tokio::test]
    async fn allowed_hosts_are_forwarded_to_the_checked_address() {
        let p = Egress::start(policy(&["127.0.0.1"]), 1 << 20)
            .await
            .unwrap();
        let (port, got) = origin("hello").await;
        let r = roundtrip(
            &p,
            &format!(
                "GET http://media.test:{port}/a/b?c=1 HTTP/1.1\r\nHost: media.test:{port}\r\n\
                 Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\nX-Y: z\r\n\r\n"
            ),
        )
        .await;
        assert!(
            r.starts_with("HTTP/1.1 200 OK") && r.ends_with("hello"),
            "{r}"
        );
        let head = got.await.unwrap();
        assert!(head.starts_with("GET /a/b?c=1 HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("X-Y: z") && head.contains("Connection: close"));
        assert!(!head.to_ascii_lowercase().contains("keep-alive"), "{head}");
        // A tunnel: the bytes after CONNECT reach the origin untouched.
        let (port, got) = origin("tunnelled").await;
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        s.write_all(format!("CONNECT media.test:{port} HTTP/1.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (established, _) = read_head(&mut s).await.unwrap();
        assert!(established.starts_with("HTTP/1.1 200"), "{established}");
        s.write_all(b"PING / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.ends_with("tunnelled"), "{out}");
        assert!(got.await.unwrap().starts_with("PING / HTTP/1.1"));
        assert!(p.refused().is_empty());
    }

    #[tokio::test]
    async fn bytes_back_are_capped() {
        let p = Egress::start(policy(&["127.0.0.1"]), 10).await.unwrap();
        let (port, _got) = origin("0123456789abcdefghij").await;
        let r = roundtrip(
            &p,
            &format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n"),
        )
        .await;
        assert_eq!(r.len(), 10, "{r}");
    }

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(split_authority("a.b:8080", 80), Some(("a.b".into(), 8080)));
        assert_eq!(split_authority("A.b", 443), Some(("a.b".into(), 443)));
        assert_eq!(split_authority("[::1]:81", 80), Some(("[::1]".into(), 81)));
        assert_eq!(split_authority("[::1]", 80), Some(("[::1]".into(), 80)));
        for bad in ["", ":80", "a:b", "a b:1", "[::1]x", "a:99999", "é.test"] {
            assert_eq!(split_authority(bad, 80), None, "{bad}");
        }
    }
}
