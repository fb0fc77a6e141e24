//! Every config under `examples/` loads without errors.

#[test]
fn every_example_config_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            if let Err(e) = strata_config::load_file(&path) {
                panic!("{e}");
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no example configs found in {}", dir.display());
}
