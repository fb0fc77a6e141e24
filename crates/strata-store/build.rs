//! `sqlx::migrate!` embeds the migration files at compile time; without this, adding a
//! migration would not rebuild the crate (cargo only watches the sources it knows of).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
