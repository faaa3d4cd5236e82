//! Alertmanager webhook bodies through the receiver's intake and what an
//! accepted one goes through before delivery, over the example catalog
//! (`edgewatch_webhook_receiver::fuzzing::Intake::check` says what holds):
//! any bytes are refused (400, 422) or accepted, never a panic; an accepted
//! body is UTF-8, splits into incident updates holding each alert once,
//! opens incidents that survive the store's JSON round trip, changes nothing
//! when sent again, is planned to destinations, and every kind of message
//! about it renders.
#![no_main]

use std::sync::LazyLock;

use edgewatch_webhook_receiver::fuzzing::Intake;
use libfuzzer_sys::fuzz_target;

static INTAKE: LazyLock<Intake> = LazyLock::new(|| {
    let files = [
        ("customers/acme.yaml", include_str!("../../examples/catalog/customers/acme.yaml")),
        ("customers/globex.yaml", include_str!("../../examples/catalog/customers/globex.yaml")),
        ("customers/hooli.yaml", include_str!("../../examples/catalog/customers/hooli.yaml")),
        ("customers/initech.yaml", include_str!("../../examples/catalog/customers/initech.yaml")),
        ("defaults.yaml", include_str!("../../examples/catalog/defaults.yaml")),
        ("destinations.yaml", include_str!("../../examples/catalog/destinations.yaml")),
    ];
    let catalog = edgewatch_catalog::load_texts(&files).expect("the example catalog").catalog;
    Intake::new(catalog).expect("the receiver's defaults")
});

fuzz_target!(|data: &[u8]| {
    if let Err(e) = INTAKE.check(data) {
        panic!("{e}");
    }
});
