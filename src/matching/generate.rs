//! Seeded generator of realistic matching instances: communities spread over districts of a
//! city, a catalogue of ~20 items, an urgency and vulnerability mix, stock and pledged lots
//! (some earmarked, some expiring), money pledges and supplier offers. Used by the benchmarks
//! and, at tiny sizes, by the property tests.

use chrono::{Days, NaiveDate};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::engine::instance::{
    EarmarkIn, Instance, NeedIn, OfferIn, Policy, SourceIn, DEFAULT_VULNERABLE,
};
use crate::money::Money;

/// How big an instance to make.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub districts: usize,
    pub communities: usize,
    pub items: usize,
    pub needs: usize,
    pub goods: usize,
    pub money: usize,
    pub offers: usize,
    /// Largest quantity a need asks for.
    pub max_quantity: i64,
    /// Goods supply as a share of what is asked, in per cent.
    pub supply_percent: i64,
}

impl Scale {
    /// 6,000 communities, 120,000 needs, 50,000 goods sources, 2,000 offers.
    pub const CITY: Scale = Scale {
        districts: 13,
        communities: 6_000,
        items: 20,
        needs: 120_000,
        goods: 50_000,
        money: 1_000,
        offers: 2_000,
        max_quantity: 2_000,
        supply_percent: 70,
    };

    /// 1,000,000 needs and 500,000 goods sources over 300 districts.
    pub const NATIONAL: Scale = Scale {
        districts: 300,
        communities: 50_000,
        items: 20,
        needs: 1_000_000,
        goods: 500_000,
        money: 5_000,
        offers: 10_000,
        max_quantity: 2_000,
        supply_percent: 70,
    };

    /// A few records with small quantities: every rule gets exercised often.
    pub fn tiny(needs: usize, goods: usize, money: usize, offers: usize) -> Scale {
        Scale {
            districts: 2,
            communities: 4,
            items: 2,
            needs,
            goods,
            money,
            offers,
            max_quantity: 12,
            supply_percent: 60,
        }
    }
}

const ITEMS: [(&str, &str, i64); 20] = [
    ("mask", "protective", 120),
    ("n95_mask", "protective", 650),
    ("gloves", "protective", 80),
    ("protective_suit", "protective", 9_000),
    ("goggles", "protective", 1_500),
    ("alcohol_500ml", "disinfection", 1_800),
    ("disinfectant_84", "disinfection", 1_200),
    ("wipes", "disinfection", 900),
    ("rice_5kg", "food", 3_500),
    ("cooking_oil", "food", 6_000),
    ("vegetable_box", "food", 4_000),
    ("meal", "meals", 2_000),
    ("milk", "food", 600),
    ("thermometer", "equipment", 2_500),
    ("oximeter", "equipment", 12_000),
    ("medicine_kit", "medicine", 8_000),
    ("adult_diapers", "daily_necessities", 5_000),
    ("sanitary_pads", "daily_necessities", 1_500),
    ("volunteer_allowance", "subsidy", 5_000),
    ("care_grant", "subsidy", 20_000),
];

const GROUPS: [&str; 9] = [
    "elders_living_alone",
    "disabled",
    "severe_patients",
    "low_income",
    "frontline_medical",
    "community_workers",
    "volunteers",
    "quarantined_households",
    "residents",
];

/// Wuhan's centre; districts sit around it.
const CENTRE: [f64; 2] = [30.59, 114.30];

fn jitter(rng: &mut StdRng, around: [f64; 2], km: f64) -> [f64; 2] {
    let degrees = km / 111.0;
    let lat = around[0] + rng.gen_range(-degrees..=degrees);
    let lon = around[1] + rng.gen_range(-degrees..=degrees);
    [(lat * 1e4).round() / 1e4, (lon * 1e4).round() / 1e4]
}

fn day(today: NaiveDate, offset: u64) -> String {
    (today + Days::new(offset)).format("%Y-%m-%d").to_string()
}

/// A reproducible instance: the same seed and scale always give the same instance.
pub fn instance(seed: u64, scale: Scale) -> Instance {
    let mut rng = StdRng::seed_from_u64(seed);
    let today = NaiveDate::from_ymd_opt(2020, 2, 10).expect("a date");
    let items: Vec<(&str, &str, i64)> = if scale.items <= 2 {
        vec![ITEMS[0], ITEMS[18]] // one good, one subsidy
    } else {
        ITEMS[..scale.items.min(ITEMS.len())].to_vec()
    };
    let districts: Vec<(String, [f64; 2])> = (0..scale.districts)
        .map(|d| {
            (
                format!("d{d}"),
                jitter(&mut rng, CENTRE, 15.0 + d as f64 * 0.5),
            )
        })
        .collect();
    let communities: Vec<(String, usize, [f64; 2])> = (0..scale.communities)
        .map(|c| {
            let d = rng.gen_range(0..districts.len());
            (format!("c{c}"), d, jitter(&mut rng, districts[d].1, 3.0))
        })
        .collect();

    let mut asked = vec![0i64; items.len()];
    let mut needs = Vec::with_capacity(scale.needs);
    for n in 0..scale.needs {
        let (community, d, location) = &communities[rng.gen_range(0..communities.len())];
        let i = rng.gen_range(0..items.len());
        let (item, category, price) = items[i];
        let subsidy = category == "subsidy";
        let quantity = if subsidy {
            rng.gen_range(1..=scale.max_quantity.min(200))
        } else {
            rng.gen_range(1..=scale.max_quantity)
        };
        asked[i] += quantity;
        let urgency = ["critical", "high", "high", "normal", "normal"][rng.gen_range(0..5)];
        let group = GROUPS[rng.gen_range(0..GROUPS.len())];
        needs.push(NeedIn {
            id: format!("n{n}"),
            community: community.clone(),
            district: Some(districts[*d].0.clone()),
            item: item.to_owned(),
            category: Some(category.to_owned()),
            quantity,
            urgency: urgency.to_owned(),
            group: Some(group.to_owned()),
            location: Some(*location),
            needed_by: rng.gen_bool(0.7).then(|| day(today, rng.gen_range(0..6))),
            rate: subsidy.then(|| Money::from_fen(price).to_string()),
        });
    }

    let earmark = |rng: &mut StdRng, goods_category: Option<&str>| -> Option<EarmarkIn> {
        let roll = rng.gen_range(0..100);
        let mut earmark = EarmarkIn::default();
        match roll {
            0..=64 => return None,
            65..=79 => {
                earmark.districts = (0..rng.gen_range(1..=2))
                    .map(|_| districts[rng.gen_range(0..districts.len())].0.clone())
                    .collect()
            }
            80..=84 => {
                earmark.communities = (0..rng.gen_range(1..=3))
                    .map(|_| communities[rng.gen_range(0..communities.len())].0.clone())
                    .collect()
            }
            85..=94 => {
                earmark.groups = GROUPS[..4]
                    .iter()
                    .filter(|_| rng.gen_bool(0.5))
                    .map(|g| g.to_string())
                    .collect();
                if earmark.groups.is_empty() {
                    earmark.groups.push(DEFAULT_VULNERABLE[0].to_owned());
                }
            }
            _ => {
                let category = goods_category
                    .unwrap_or(["protective", "subsidy", "food"][rng.gen_range(0..3)]);
                earmark.categories = vec![category.to_owned()];
            }
        }
        Some(earmark)
    };

    let goods_items: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].1 != "subsidy")
        .collect();
    let warehouses: Vec<[f64; 2]> = (0..(scale.goods / 1000).clamp(3, 60))
        .map(|_| jitter(&mut rng, CENTRE, 20.0))
        .collect();
    let mut sources = Vec::with_capacity(scale.goods + scale.money);
    for s in 0..scale.goods {
        if goods_items.is_empty() {
            break;
        }
        let i = goods_items[rng.gen_range(0..goods_items.len())];
        let per_lot = (asked[i] * scale.supply_percent / 100) * goods_items.len() as i64
            / scale.goods.max(1) as i64;
        let stock = rng.gen_bool(0.6);
        sources.push(SourceIn {
            id: format!("g{s}"),
            kind: if stock { "stock" } else { "pledge" }.to_owned(),
            item: Some(items[i].0.to_owned()),
            quantity: Some(rng.gen_range(0..=(2 * per_lot).max(1))),
            amount: None,
            location: Some(if stock {
                warehouses[rng.gen_range(0..warehouses.len())]
            } else {
                jitter(&mut rng, CENTRE, 20.0)
            }),
            expires: rng.gen_bool(0.2).then(|| day(today, rng.gen_range(0..8))),
            available_from: (!stock && rng.gen_bool(0.5)).then(|| day(today, rng.gen_range(0..4))),
            earmark: earmark(&mut rng, None),
        });
    }
    let demand_fen: i64 = (0..items.len()).map(|i| asked[i] * items[i].2).sum();
    for m in 0..scale.money {
        let mean = demand_fen / 5 / scale.money.max(1) as i64;
        sources.push(SourceIn {
            id: format!("m{m}"),
            kind: "money".to_owned(),
            item: None,
            quantity: None,
            amount: Some(
                Money::from_fen(if scale.items <= 2 {
                    // Tiny instances: whole multiples of the subsidy rate, so the exact reference
                    // (continuous) and a plan (whole units per source) can be compared.
                    rng.gen_range(0..=(2 * mean / 5_000).max(3)) * 5_000
                } else {
                    rng.gen_range(0..=(2 * mean).max(100))
                })
                .to_string(),
            ),
            location: None,
            expires: None,
            available_from: None,
            earmark: earmark(&mut rng, None),
        });
    }
    let offers = (0..scale.offers)
        .filter(|_| !goods_items.is_empty())
        .map(|o| {
            let i = goods_items[rng.gen_range(0..goods_items.len())];
            let (item, _, price) = items[i];
            let per_offer = asked[i] * goods_items.len() as i64 / scale.offers.max(1) as i64 / 3;
            OfferIn {
                id: format!("o{o}"),
                supplier: format!("supplier{}", o % 97),
                item: item.to_owned(),
                unit_price: Money::from_fen(price * rng.gen_range(70..=130) / 100).to_string(),
                capacity: rng.gen_range(0..=(2 * per_offer).max(2)),
                lead_days: rng.gen_range(0..=4),
                location: Some(jitter(&mut rng, CENTRE, 25.0)),
            }
        })
        .collect();
    Instance {
        today: today.format("%Y-%m-%d").to_string(),
        policy: Some(Policy {
            vulnerable_groups: DEFAULT_VULNERABLE.iter().map(|g| g.to_string()).collect(),
        }),
        needs,
        sources,
        offers,
    }
}
