//! Properties on random instances: every hard constraint holds, the same instance gives the
//! same bytes, and no usable supply is left while an eligible need is short.

use proptest::prelude::*;
use weave::matching::{
    engine,
    generate::{self, Scale},
};

use super::check;

fn scale() -> impl Strategy<Value = Scale> {
    (1usize..12, 0usize..8, 0usize..3, 0usize..4)
        .prop_map(|(needs, goods, money, offers)| Scale::tiny(needs, goods, money, offers))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn plans_obey_every_hard_constraint(seed in any::<u64>(), scale in scale()) {
        let instance = generate::instance(seed, scale);
        let plan = engine::plan(&instance).unwrap();
        prop_assert_eq!(check::verify(&instance, &plan), Ok(()));
    }

    #[test]
    fn the_same_instance_gives_the_same_bytes(seed in any::<u64>(), scale in scale()) {
        let instance = generate::instance(seed, scale);
        let first = serde_json::to_vec(&engine::plan(&instance).unwrap()).unwrap();
        let again = serde_json::to_vec(&engine::plan(&instance).unwrap()).unwrap();
        prop_assert_eq!(first, again);
    }

    #[test]
    fn no_supply_is_left_idle(seed in any::<u64>(), scale in scale()) {
        let instance = generate::instance(seed, scale);
        let plan = engine::plan(&instance).unwrap();
        prop_assert_eq!(check::idle_supply(&instance, &plan), None);
    }
}

#[test]
fn a_city_sized_slice_obeys_every_rule() {
    let scale = Scale {
        needs: 3_000,
        goods: 1_200,
        money: 40,
        offers: 60,
        communities: 300,
        ..Scale::CITY
    };
    let instance = generate::instance(7, scale);
    let plan = engine::plan(&instance).unwrap();
    assert_eq!(check::verify(&instance, &plan), Ok(()));
    assert_eq!(check::idle_supply(&instance, &plan), None);
    assert!(plan.summary.allocated > 0);
}
