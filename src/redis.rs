//! A minimal Redis client for the session store: the handful of commands we need,
//! spoken in RESP over TCP. A full client crate would triple our build for five verbs.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    time::timeout,
};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct RedisClient {
    addr: String,
    password: Option<String>,
    db: u32,
}

#[derive(Debug, PartialEq)]
enum Reply {
    Simple(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl RedisClient {
    /// Accepts `redis://[:password@]host[:port][/db]`.
    pub fn from_url(url: &str) -> anyhow::Result<RedisClient> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| anyhow!("REDIS_URL must start with redis://"))?;
        let (auth, hostpart) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (hostport, db) = match hostpart.split_once('/') {
            Some((h, d)) if !d.is_empty() => {
                (h, d.parse().context("REDIS_URL database must be a number")?)
            }
            Some((h, _)) => (h, 0),
            None => (hostpart, 0),
        };
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:6379")
        };
        let password = auth.map(|a| a.rsplit_once(':').map_or(a, |(_, p)| p).to_string());
        Ok(RedisClient { addr, password, db })
    }

    async fn command(&self, args: &[&[u8]]) -> anyhow::Result<Reply> {
        timeout(IO_TIMEOUT, self.command_inner(args))
            .await
            .map_err(|_| anyhow!("redis at {} did not answer within 5 s", self.addr))?
    }

    async fn command_inner(&self, args: &[&[u8]]) -> anyhow::Result<Reply> {
        let stream = TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("cannot connect to redis at {}", self.addr))?;
        let mut conn = BufReader::new(stream);
        let mut out = Vec::new();
        if let Some(pw) = &self.password {
            encode(&mut out, &[b"AUTH", pw.as_bytes()]);
        }
        if self.db != 0 {
            encode(&mut out, &[b"SELECT", self.db.to_string().as_bytes()]);
        }
        encode(&mut out, args);
        conn.get_mut().write_all(&out).await?;
        if self.password.is_some() {
            read_reply(&mut conn).await?;
        }
        if self.db != 0 {
            read_reply(&mut conn).await?;
        }
        read_reply(&mut conn).await
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        match self.command(&[b"PING"]).await? {
            Reply::Simple(s) if s == "PONG" => Ok(()),
            other => bail!("unexpected PING reply {other:?}"),
        }
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        match self.command(&[b"GET", key.as_bytes()]).await? {
            Reply::Bulk(None) => Ok(None),
            Reply::Bulk(Some(v)) => Ok(Some(String::from_utf8(v)?)),
            other => bail!("unexpected GET reply {other:?}"),
        }
    }

    pub async fn set_ex(&self, key: &str, value: &str, secs: i64) -> anyhow::Result<()> {
        let secs = secs.to_string();
        self.command(&[
            b"SET",
            key.as_bytes(),
            value.as_bytes(),
            b"EX",
            secs.as_bytes(),
        ])
        .await
        .map(drop)
    }

    pub async fn expire(&self, key: &str, secs: i64) -> anyhow::Result<()> {
        let secs = secs.to_string();
        self.command(&[b"EXPIRE", key.as_bytes(), secs.as_bytes()])
            .await
            .map(drop)
    }

    pub async fn del(&self, key: &str) -> anyhow::Result<()> {
        self.command(&[b"DEL", key.as_bytes()]).await.map(drop)
    }

    pub async fn sadd(&self, set: &str, member: &str) -> anyhow::Result<()> {
        self.command(&[b"SADD", set.as_bytes(), member.as_bytes()])
            .await
            .map(drop)
    }

    pub async fn smembers(&self, set: &str) -> anyhow::Result<Vec<String>> {
        match self.command(&[b"SMEMBERS", set.as_bytes()]).await? {
            Reply::Array(items) => items
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(Some(v)) => Ok(String::from_utf8(v)?),
                    other => bail!("unexpected SMEMBERS item {other:?}"),
                })
                .collect(),
            other => bail!("unexpected SMEMBERS reply {other:?}"),
        }
    }
}

fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> anyhow::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        bail!("redis closed the connection");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn read_reply<R: AsyncBufReadExt + Unpin>(r: &mut R) -> anyhow::Result<Reply> {
    // Replies nest only one level for the commands we send, so no recursion is needed.
    let line = read_line(r).await?;
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" => Ok(Reply::Simple(rest.to_string())),
        "-" => bail!("redis error: {rest}"),
        ":" => Ok(Reply::Int(rest.parse()?)),
        "$" => read_bulk(r, rest.parse()?).await,
        "*" => {
            let n: i64 = rest.parse()?;
            let mut items = Vec::new();
            for _ in 0..n.max(0) {
                let line = read_line(r).await?;
                match line.strip_prefix('$') {
                    Some(len) => items.push(read_bulk(r, len.parse()?).await?),
                    None => bail!("unexpected array item {line}"),
                }
            }
            Ok(Reply::Array(items))
        }
        _ => bail!("unexpected redis reply {line}"),
    }
}

async fn read_bulk<R: AsyncBufReadExt + Unpin>(r: &mut R, len: i64) -> anyhow::Result<Reply> {
    if len < 0 {
        return Ok(Reply::Bulk(None));
    }
    let len = usize::try_from(len)?;
    let mut buf = vec![0u8; len + 2];
    r.read_exact(&mut buf).await?;
    buf.truncate(len);
    Ok(Reply::Bulk(Some(buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let c = RedisClient::from_url("redis://127.0.0.1:6379").expect("valid");
        assert_eq!(
            (c.addr.as_str(), c.password.as_deref(), c.db),
            ("127.0.0.1:6379", None, 0)
        );
        let c = RedisClient::from_url("redis://:s3cret@cache/2").expect("valid");
        assert_eq!(
            (c.addr.as_str(), c.password.as_deref(), c.db),
            ("cache:6379", Some("s3cret"), 2)
        );
        assert!(RedisClient::from_url("http://x").is_err());
    }

    #[test]
    fn encodes_resp_arrays() {
        let mut out = Vec::new();
        encode(&mut out, &[b"GET", b"k"]);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }

    #[actix_rt::test]
    async fn decodes_replies() {
        let mut input: &[u8] = b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n";
        let mut r = BufReader::new(&mut input);
        assert_eq!(
            read_reply(&mut r).await.expect("array"),
            Reply::Array(vec![
                Reply::Bulk(Some(b"a".to_vec())),
                Reply::Bulk(Some(b"bc".to_vec()))
            ])
        );
        let mut input: &[u8] = b"$-1\r\n";
        assert_eq!(
            read_reply(&mut BufReader::new(&mut input))
                .await
                .expect("nil"),
            Reply::Bulk(None)
        );
        let mut input: &[u8] = b"-ERR nope\r\n";
        assert!(read_reply(&mut BufReader::new(&mut input)).await.is_err());
    }
}
