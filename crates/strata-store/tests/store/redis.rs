//! The shared Redis connection, when `STRATA_TEST_REDIS_URL` is set.

use libtest_mimic::Trial;
use strata_config::Storage;
use strata_core::Secret;
use strata_store::Store;
use strata_testkit::{Service, service_url};

use crate::backends::runtime;

pub fn trials() -> Vec<Trial> {
    let Some(url) = service_url(Service::Redis) else {
        strata_testkit::skip("redis::round_trip", "STRATA_TEST_REDIS_URL is not set");
        return vec![Trial::test("redis::round_trip", || Ok(())).with_ignored_flag(true)];
    };
    vec![Trial::test("redis::round_trip", move || {
        runtime().block_on(async {
            let dir = tempfile::tempdir()?;
            let storage = Storage {
                url: Secret::new(format!("sqlite://{}", dir.path().join("r.db").display())),
                redis: Some(Secret::new(url)),
                ..Storage::default()
            };
            let store = Store::connect(&storage).await?;
            store.ping().await?;
            let redis = store.redis().expect("redis configured");
            let key = format!("strata:test:{}", uuid::Uuid::new_v4());
            let mut conn = redis.conn();
            let () = redis::cmd("SET")
                .arg(&key)
                .arg("v")
                .arg("EX")
                .arg(60)
                .query_async(&mut conn)
                .await?;
            let got: String = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
            assert_eq!(got, "v");
            let _: i64 = redis::cmd("DEL").arg(&key).query_async(&mut conn).await?;
            Ok(())
        })
    })]
}
