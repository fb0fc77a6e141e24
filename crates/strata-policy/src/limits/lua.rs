//! Calls a Lua script by its SHA1 (`EVALSHA`), loading it with `SCRIPT LOAD` on first use and
//! falling back to `EVAL` when the server has forgotten it (restart, failover, `SCRIPT FLUSH`).
//! This is what `redis::Script` does; that type needs the crate's `script` feature, which the
//! workspace does not enable.

use redis::aio::ConnectionManager;
use redis::{Cmd, FromRedisValue, RedisResult, ToRedisArgs};
use tokio::sync::OnceCell;

#[derive(Debug)]
pub(super) struct Lua {
    code: String,
    sha: OnceCell<String>,
}

impl Lua {
    pub(super) fn new(code: impl Into<String>) -> Self {
        Lua {
            code: code.into(),
            sha: OnceCell::new(),
        }
    }

    /// Starts a call on one key (`KEYS[1]`).
    pub(super) fn key(&self, key: impl ToRedisArgs) -> Call<'_> {
        let mut keys = Vec::new();
        key.write_redis_args(&mut keys);
        Call {
            lua: self,
            keys,
            args: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(super) struct Call<'a> {
    lua: &'a Lua,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Call<'_> {
    /// Adds `ARGV[n]`.
    pub(super) fn arg(mut self, arg: impl ToRedisArgs) -> Self {
        arg.write_redis_args(&mut self.args);
        self
    }

    pub(super) async fn invoke<T: FromRedisValue>(
        self,
        conn: &mut ConnectionManager,
    ) -> RedisResult<T> {
        let code = self.lua.code.as_str();
        let sha = self
            .lua
            .sha
            .get_or_try_init(|| async {
                redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(code)
                    .query_async::<String>(&mut *conn)
                    .await
            })
            .await?;
        match self.cmd("EVALSHA", sha).query_async(&mut *conn).await {
            Err(e) if e.code() == Some("NOSCRIPT") => {
                self.cmd("EVAL", code).query_async(&mut *conn).await
            }
            result => result,
        }
    }

    fn cmd(&self, verb: &str, body: &str) -> Cmd {
        let mut cmd = redis::cmd(verb);
        cmd.arg(body).arg(self.keys.len());
        for part in self.keys.iter().chain(&self.args) {
            cmd.arg(part.as_slice());
        }
        cmd
    }
}
