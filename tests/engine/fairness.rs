//! The difference fairness makes: the cheapest plan fills the communities next to the
//! warehouse and leaves the far ones with nothing; Weave's plan gives each its share.

use serde_json::json;
use weave::matching::engine::{self, Instance};

use super::check;

fn four_communities() -> Instance {
    let need = |id: &str, lon: f64| {
        json!({"id": id, "community": id, "district": "jianghan", "item": "mask",
               "category": "protective", "quantity": 500, "urgency": "critical",
               "group": "elders_living_alone", "location": [30.59, lon], "needed_by": "2020-02-12"})
    };
    serde_json::from_value(json!({
        "today": "2020-02-10",
        "needs": [need("duowen", 114.27), need("tangjia", 114.29), need("houhu", 114.40), need("qingshan", 114.45)],
        "sources": [{"id": "warehouse", "kind": "stock", "item": "mask", "quantity": 1000,
                     "location": [30.59, 114.28]}]
    }))
    .unwrap()
}

/// Plain minimum-cost allocation (least quantity × distance): with one warehouse it serves
/// the nearest communities first.
fn cheapest(instance: &Instance) -> Vec<i64> {
    let warehouse = instance.sources[0].location.unwrap();
    let mut order: Vec<usize> = (0..instance.needs.len()).collect();
    let far = |i: usize| (instance.needs[i].location.unwrap()[1] - warehouse[1]).abs();
    order.sort_by(|&a, &b| far(a).total_cmp(&far(b)));
    let mut left = instance.sources[0].quantity.unwrap();
    let mut given = vec![0; instance.needs.len()];
    for i in order {
        given[i] = left.min(instance.needs[i].quantity);
        left -= given[i];
    }
    given
}

#[test]
fn min_cost_starves_the_far_communities_and_weave_does_not() {
    let instance = four_communities();
    assert_eq!(
        cheapest(&instance),
        vec![500, 500, 0, 0],
        "min-cost leaves two with nothing"
    );

    let plan = engine::plan(&instance).unwrap();
    check::verify(&instance, &plan).unwrap();
    assert_eq!(check::received(&instance, &plan), vec![250, 250, 250, 250]);
    for line in &plan.allocations {
        assert!(
            line.reason
                .to_string()
                .contains("equal share 50% of asked across 4 needs"),
            "{}",
            line.reason
        );
    }
}

#[test]
fn the_most_urgent_and_vulnerable_are_served_first() {
    let mut instance = four_communities();
    instance.needs[3].urgency = "normal".into();
    instance.needs[2].group = Some("residents".into());
    let plan = engine::plan(&instance).unwrap();
    // critical + vulnerable (duowen, tangjia) in full, then critical (houhu), normal last.
    assert_eq!(check::received(&instance, &plan), vec![500, 500, 0, 0]);
    let mut instance = four_communities();
    instance.sources[0].quantity = Some(1_400);
    instance.needs[0].group = Some("residents".into());
    let plan = engine::plan(&instance).unwrap();
    // 1,400 for three critical + vulnerable needs of 500: 466⅔ each, the two spare units by
    // largest remainder, ties by id (houhu, qingshan); duowen (critical only) gets none.
    assert_eq!(check::received(&instance, &plan), vec![0, 466, 467, 467]);
}
