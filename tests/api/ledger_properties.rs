//! Property tests of the ledgers through the API on the real database: random sequences of
//! stock movements and of receipts, disbursements and budget adjustments. A simple model
//! predicts which operations must be refused (409, nothing written) and what every balance
//! must be; after each sequence the books check recounts every stock balance from its
//! movements and every entry of the fund ledger, and the API's balances equal the model's.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::{
    common::{body, TestApp},
    stock::{books_are_sound, goods_pledge, keyed, receive, stock_world, Stock},
};

#[derive(Clone, Debug)]
enum StockOp {
    Transfer {
        from: usize,
        quantity: i64,
    },
    Adjust {
        at: usize,
        delta: i64,
    },
    Dispatch {
        at: usize,
        quantity: i64,
    },
    Return {
        from: usize,
        to: usize,
        quantity: i64,
    },
    Reverse {
        back: usize,
    },
}

fn stock_op() -> impl Strategy<Value = StockOp> {
    prop_oneof![
        (0..2usize, 1..40i64).prop_map(|(from, quantity)| StockOp::Transfer { from, quantity }),
        (0..2usize, -30..30i64)
            .prop_filter("not zero", |(_, d)| *d != 0)
            .prop_map(|(at, delta)| StockOp::Adjust { at, delta }),
        (0..2usize, 1..40i64).prop_map(|(at, quantity)| StockOp::Dispatch { at, quantity }),
        (0..2usize, 0..2usize, 1..30i64).prop_map(|(from, to, quantity)| StockOp::Return {
            from,
            to,
            quantity
        }),
        (0..6usize).prop_map(|back| StockOp::Reverse { back }),
    ]
}

/// Free and in-transit units per location index, as the ledger must have them.
#[derive(Default, Clone)]
struct Shelf {
    available: [i64; 2],
    in_transit: [i64; 2],
}

/// Effects of a posted movement on the model: (location, in transit?, delta).
type Effects = Vec<(usize, bool, i64)>;

impl Shelf {
    fn apply(&mut self, effects: &Effects) -> bool {
        let mut next = self.clone();
        for &(at, transit, delta) in effects {
            let cell = if transit {
                &mut next.in_transit[at]
            } else {
                &mut next.available[at]
            };
            *cell += delta;
            if *cell < 0 {
                return false;
            }
        }
        *self = next;
        true
    }
}

async fn run_stock_case(s: &Stock, ops: &[StockOp]) {
    let item = crate::catalogue::create_item(
        &s.app,
        &s.hub.token,
        &json!({"code": format!("d_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), "name_zh": "消毒液",
                "category": "disinfection", "unit_zh": "瓶"}),
    )
    .await;
    let pledge = goods_pledge(s, item, 100).await;
    let lot = receive(s, pledge, s.warehouse, 100, "2027-03-01").await;
    let places = [s.warehouse, s.station];
    let mut shelf = Shelf {
        available: [100, 0],
        ..Shelf::default()
    };
    let mut posted: Vec<(i64, Effects, bool)> = Vec::new();
    for op in ops {
        let (input, effects) = match *op {
            StockOp::Transfer { from, quantity } => (
                json!({"kind": "transfer", "lot_id": lot, "from_location_id": places[from],
                       "to_location_id": places[1 - from], "quantity": quantity}),
                vec![(from, false, -quantity), (1 - from, false, quantity)],
            ),
            StockOp::Adjust { at, delta } => (
                json!({"kind": "adjust", "lot_id": lot, "location_id": places[at], "quantity": delta, "reason": "盘点"}),
                vec![(at, false, delta)],
            ),
            StockOp::Dispatch { at, quantity } => (
                json!({"kind": "dispatch", "lot_id": lot, "location_id": places[at], "quantity": quantity}),
                vec![(at, false, -quantity), (at, true, quantity)],
            ),
            StockOp::Return { from, to, quantity } => (
                json!({"kind": "return", "lot_id": lot, "from_location_id": places[from],
                       "to_location_id": places[to], "quantity": quantity}),
                vec![(from, true, -quantity), (to, false, quantity)],
            ),
            StockOp::Reverse { back } => {
                let Some(index) = posted.len().checked_sub(back + 1) else {
                    continue;
                };
                let (id, effects, reversed) = posted[index].clone();
                let negated: Effects = effects.iter().map(|&(a, t, d)| (a, t, -d)).collect();
                let response = keyed(
                    &s.app,
                    "/api/v1/stock-movements",
                    &s.hub.token,
                    &json!({"kind": "reversal", "movement_id": id, "reason": "录错了"}),
                )
                .await;
                let status = response.status().as_u16();
                if reversed {
                    assert_eq!(status, 409, "a second reversal of {id}");
                    continue;
                }
                let fits = shelf.apply(&negated);
                assert_eq!(
                    status,
                    if fits { 201 } else { 409 },
                    "reversal of {id} ({op:?})"
                );
                if fits {
                    posted[index].2 = true;
                }
                continue;
            }
        };
        let response = keyed(&s.app, "/api/v1/stock-movements", &s.hub.token, &input).await;
        let status = response.status().as_u16();
        let fits = shelf.apply(&effects);
        assert_eq!(status, if fits { 201 } else { 409 }, "{op:?}");
        if fits {
            let id = body(response).await["movements"][0]["id"].as_i64().unwrap();
            posted.push((id, effects, false));
        }
    }
    for (i, place) in places.iter().enumerate() {
        let (available, _, in_transit) = crate::stock::held(s, item, *place).await;
        assert_eq!(
            (available, in_transit),
            (shelf.available[i], shelf.in_transit[i]),
            "location {place} after {ops:?}"
        );
    }
    books_are_sound(&s.app, &s.admin).await;
}

#[test]
fn random_stock_movements_keep_every_balance_true_and_never_negative() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = runtime.block_on(stock_world());
    let config = ProptestConfig {
        cases: 32,
        max_shrink_iters: 50,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec(stock_op(), 1..24))| {
        runtime.block_on(run_stock_case(&s, &ops));
    });
}

#[derive(Clone, Debug)]
enum FundOp {
    Receive { amount: i64 },
    Disburse { line: usize, amount: i64 },
    Move { from: usize, amount: i64 },
}

fn fund_op() -> impl Strategy<Value = FundOp> {
    prop_oneof![
        (1..400i64).prop_map(|amount| FundOp::Receive { amount }),
        (0..2usize, 1..300i64).prop_map(|(line, amount)| FundOp::Disburse { line, amount }),
        (0..2usize, 1..200i64).prop_map(|(from, amount)| FundOp::Move { from, amount }),
    ]
}

struct Books {
    app: TestApp,
    staff: crate::common::TestUser,
    admin: crate::common::TestUser,
    donor: i64,
}

async fn run_fund_case(b: &Books, ops: &[FundOp]) {
    let name = format!("项目 {}", uuid::Uuid::new_v4().simple());
    let project = body(
        b.app
            .post("/api/v1/projects", Some(&b.staff.token))
            .json(&json!({"name_zh": name, "starts_on": "2026-01-01", "ends_on": "2026-12-31",
                          "budget_lines": [{"category": "防护用品", "amount": "500"}, {"category": "补贴", "amount": "300"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = project["id"].as_i64().unwrap();
    let lines: Vec<i64> = project["budget_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    let pledge = body(
        keyed(
            &b.app,
            "/api/v1/pledges",
            &b.staff.token,
            &json!({"donor_id": b.donor, "kind": "money", "amount": "1000"}),
        )
        .await,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let (mut pledged_left, mut cash) = (1000i64, 0i64);
    let mut budget = [500i64, 300];
    let mut spent = [0i64, 0];
    for op in ops {
        let (path, input, fits) = match *op {
            FundOp::Receive { amount } => (
                "/api/v1/receipts",
                json!({"project_id": id, "pledge_id": pledge, "amount": amount.to_string()}),
                amount <= pledged_left,
            ),
            FundOp::Disburse { line, amount } => (
                "/api/v1/disbursements",
                json!({"project_id": id, "budget_line_id": lines[line], "kind": "other", "fund": "general",
                       "amount": amount.to_string(), "payee": "供应商"}),
                amount <= cash && amount <= budget[line] - spent[line],
            ),
            FundOp::Move { from, amount } => (
                "/api/v1/budget-adjustments",
                json!({"project_id": id, "from_line_id": lines[from], "to_line_id": lines[1 - from],
                       "amount": amount.to_string(), "reason": "调整"}),
                amount <= budget[from] - spent[from],
            ),
        };
        let status = keyed(&b.app, path, &b.staff.token, &input)
            .await
            .status()
            .as_u16();
        let refused = if matches!(op, FundOp::Receive { .. }) {
            422
        } else {
            409
        };
        assert_eq!(status, if fits { 201 } else { refused }, "{op:?}");
        if fits {
            match *op {
                FundOp::Receive { amount } => {
                    pledged_left -= amount;
                    cash += amount;
                }
                FundOp::Disburse { line, amount } => {
                    cash -= amount;
                    spent[line] += amount;
                }
                FundOp::Move { from, amount } => {
                    budget[from] -= amount;
                    budget[1 - from] += amount;
                }
            }
        }
    }
    let shown = body(
        b.app
            .get(&format!("/api/v1/projects/{id}"), Some(&b.staff.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let yuan = |v: &Value| v.as_str().unwrap().replace('.', "").parse::<i64>().unwrap() / 100;
    let general: HashMap<String, i64> = shown["funds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["fund"].as_str().unwrap().to_owned(), yuan(&f["balance"])))
        .collect();
    assert_eq!(general.get("general").copied().unwrap_or(0), cash);
    for (i, line) in shown["budget_lines"].as_array().unwrap().iter().enumerate() {
        assert_eq!(yuan(&line["budget"]), budget[i]);
        assert_eq!(yuan(&line["spent"]), spent[i]);
    }
    books_are_sound(&b.app, &b.admin).await;
}

#[test]
fn random_money_movements_keep_every_entry_balanced_and_no_line_overdrawn() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let books = runtime.block_on(async {
        let app = TestApp::new().await;
        let staff = app.user(weave::auth::Role::FoundationStaff).await;
        let admin = app.user(weave::auth::Role::Admin).await;
        let donor = app.user(weave::auth::Role::Donor).await;
        Books {
            app,
            staff,
            admin,
            donor: donor.orgs[0],
        }
    });
    let config = ProptestConfig {
        cases: 32,
        max_shrink_iters: 50,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec(fund_op(), 1..24))| {
        runtime.block_on(run_fund_case(&books, &ops));
    });
}
