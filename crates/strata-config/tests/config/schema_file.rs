//! The checked-in `schema/config.json` must match the schema the code generates.

#[test]
fn checked_in_schema_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/config.json");
    let generated = serde_json::to_string_pretty(&strata_config::json_schema()).unwrap() + "\n";
    if std::env::var_os("STRATA_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schema/config.json is out of date: run `cargo run -p strata -- schema > schema/config.json` \
         (or STRATA_UPDATE_SCHEMA=1 cargo test -p strata-config)"
    );
}
