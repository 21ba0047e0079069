//! A believable demo hub, modelled on the field notes: a city hub in Wuhan with a dozen
//! communities (headcounts like Duowen's), partner social-work organisations, suppliers,
//! individual and institutional donors, a foundation, and one account per role.

use std::fmt::Write;

use crate::{
    audit::{self, Actor},
    auth::{password, store as accounts, Role},
    catalogue::{
        self,
        model::{Category, ItemInput, KitInput, KitLine, ValidItem, ValidKit},
    },
    db::Db,
    money::Money,
    registry::{
        model::{
            Contact, DonorType, GeoPoint, Headcounts, OrgKind, OrganisationInput, ValidOrganisation,
        },
        store,
    },
};

struct Community {
    name_zh: &'static str,
    name_en: &'static str,
    district: &'static str,
    lat: f64,
    lon: f64,
    households: i64,
    residents: i64,
    over_60: i64,
    alone: i64,
}

const COMMUNITIES: &[Community] = &[
    Community {
        name_zh: "多闻社区",
        name_en: "Duowen",
        district: "江汉区",
        lat: 30.5868,
        lon: 114.2736,
        households: 1900,
        residents: 4700,
        over_60: 1200,
        alone: 220,
    },
    Community {
        name_zh: "民意社区",
        name_en: "Minyi",
        district: "江汉区",
        lat: 30.5845,
        lon: 114.2761,
        households: 2150,
        residents: 5300,
        over_60: 1350,
        alone: 240,
    },
    Community {
        name_zh: "友谊社区",
        name_en: "Youyi",
        district: "江汉区",
        lat: 30.5899,
        lon: 114.2702,
        households: 1720,
        residents: 4100,
        over_60: 980,
        alone: 176,
    },
    Community {
        name_zh: "前进社区",
        name_en: "Qianjin",
        district: "江汉区",
        lat: 30.5821,
        lon: 114.2793,
        households: 1580,
        residents: 3900,
        over_60: 1040,
        alone: 198,
    },
    Community {
        name_zh: "崇安社区",
        name_en: "Chong'an",
        district: "江汉区",
        lat: 30.5877,
        lon: 114.2689,
        households: 1260,
        residents: 3100,
        over_60: 860,
        alone: 154,
    },
    Community {
        name_zh: "花桥社区",
        name_en: "Huaqiao",
        district: "江岸区",
        lat: 30.6203,
        lon: 114.2901,
        households: 2400,
        residents: 6100,
        over_60: 1490,
        alone: 262,
    },
    Community {
        name_zh: "百步亭社区",
        name_en: "Baibuting",
        district: "江岸区",
        lat: 30.6435,
        lon: 114.2987,
        households: 2980,
        residents: 7400,
        over_60: 1710,
        alone: 301,
    },
    Community {
        name_zh: "大智社区",
        name_en: "Dazhi",
        district: "江岸区",
        lat: 30.5981,
        lon: 114.2889,
        households: 1340,
        residents: 3300,
        over_60: 910,
        alone: 170,
    },
    Community {
        name_zh: "首义社区",
        name_en: "Shouyi",
        district: "武昌区",
        lat: 30.5429,
        lon: 114.3022,
        households: 1850,
        residents: 4500,
        over_60: 1180,
        alone: 214,
    },
    Community {
        name_zh: "粮道街社区",
        name_en: "Liangdaojie",
        district: "武昌区",
        lat: 30.5466,
        lon: 114.3078,
        households: 1630,
        residents: 4000,
        over_60: 1090,
        alone: 205,
    },
    Community {
        name_zh: "水果湖社区",
        name_en: "Shuiguohu",
        district: "武昌区",
        lat: 30.5508,
        lon: 114.3441,
        households: 2210,
        residents: 5200,
        over_60: 1260,
        alone: 231,
    },
    Community {
        name_zh: "汉正街社区",
        name_en: "Hanzhengjie",
        district: "硚口区",
        lat: 30.5742,
        lon: 114.2697,
        households: 1470,
        residents: 3600,
        over_60: 940,
        alone: 183,
    },
];

struct Other {
    kind: OrgKind,
    donor_type: Option<DonorType>,
    name_zh: &'static str,
    name_en: &'static str,
    district: &'static str,
    contact: &'static str,
}

const OTHERS: &[Other] = &[
    Other {
        kind: OrgKind::Hub,
        donor_type: None,
        name_zh: "江汉区社区支持枢纽",
        name_en: "Jianghan Community Support Hub",
        district: "江汉区",
        contact: "027-85550100",
    },
    Other {
        kind: OrgKind::Foundation,
        donor_type: None,
        name_zh: "江城社区公益基金会",
        name_en: "Jiangcheng Community Foundation",
        district: "江汉区",
        contact: "027-85550200",
    },
    Other {
        kind: OrgKind::Partner,
        donor_type: None,
        name_zh: "美好社会工作服务中心",
        name_en: "Meihao Social Work Centre",
        district: "江汉区",
        contact: "027-85550300",
    },
    Other {
        kind: OrgKind::Partner,
        donor_type: None,
        name_zh: "博闻之家居家养老服务中心",
        name_en: "Bowen Home Care Centre",
        district: "江汉区",
        contact: "027-85550301",
    },
    Other {
        kind: OrgKind::Partner,
        donor_type: None,
        name_zh: "江岸区志愿者协会",
        name_en: "Jiang'an Volunteers Association",
        district: "江岸区",
        contact: "027-85550302",
    },
    Other {
        kind: OrgKind::Supplier,
        donor_type: None,
        name_zh: "汉阳防护用品有限公司",
        name_en: "Hanyang Protective Supplies Co.",
        district: "汉阳区",
        contact: "027-85550400",
    },
    Other {
        kind: OrgKind::Supplier,
        donor_type: None,
        name_zh: "白沙洲农副产品市场",
        name_en: "Baishazhou Produce Market",
        district: "洪山区",
        contact: "027-85550401",
    },
    Other {
        kind: OrgKind::Supplier,
        donor_type: None,
        name_zh: "楚味团餐配送中心",
        name_en: "Chuwei Meal Catering",
        district: "江汉区",
        contact: "027-85550402",
    },
    Other {
        kind: OrgKind::Donor,
        donor_type: Some(DonorType::Institution),
        name_zh: "长江医药集团",
        name_en: "Changjiang Pharma Group",
        district: "江岸区",
        contact: "027-85550500",
    },
    Other {
        kind: OrgKind::Donor,
        donor_type: Some(DonorType::Institution),
        name_zh: "汉口商会",
        name_en: "Hankou Chamber of Commerce",
        district: "江汉区",
        contact: "027-85550501",
    },
    Other {
        kind: OrgKind::Donor,
        donor_type: Some(DonorType::Individual),
        name_zh: "王女士",
        name_en: "Ms Wang",
        district: "江汉区",
        contact: "13800000001",
    },
    Other {
        kind: OrgKind::Donor,
        donor_type: Some(DonorType::Individual),
        name_zh: "李先生",
        name_en: "Mr Li",
        district: "武昌区",
        contact: "13800000002",
    },
];

/// code, 中文名, English name, category, 单位, unit, reference price, shelf life (days).
type DemoItem = (
    &'static str,
    &'static str,
    &'static str,
    Category,
    &'static str,
    &'static str,
    &'static str,
    Option<i64>,
);

const ITEMS: &[DemoItem] = &[
    (
        "mask",
        "一次性医用口罩",
        "Medical mask",
        Category::Protective,
        "个",
        "piece",
        "1.20",
        None,
    ),
    (
        "n95",
        "N95 口罩",
        "N95 respirator",
        Category::Protective,
        "个",
        "piece",
        "6.50",
        None,
    ),
    (
        "goggles",
        "护目镜",
        "Goggles",
        Category::Protective,
        "副",
        "pair",
        "25.00",
        None,
    ),
    (
        "gloves",
        "一次性手套",
        "Disposable gloves",
        Category::Protective,
        "双",
        "pair",
        "0.80",
        None,
    ),
    (
        "disinfectant_84",
        "84 消毒液",
        "84 disinfectant",
        Category::Disinfection,
        "瓶",
        "bottle",
        "8.00",
        Some(365),
    ),
    (
        "alcohol_75",
        "75% 酒精",
        "75% alcohol",
        Category::Disinfection,
        "瓶",
        "bottle",
        "12.00",
        Some(730),
    ),
    (
        "wipes",
        "消毒湿巾",
        "Disinfecting wipes",
        Category::Disinfection,
        "包",
        "pack",
        "6.00",
        Some(365),
    ),
    (
        "thermometer",
        "额温枪",
        "Forehead thermometer",
        Category::Equipment,
        "把",
        "unit",
        "150.00",
        None,
    ),
    (
        "camp_bed",
        "行军床",
        "Camp bed",
        Category::Equipment,
        "张",
        "bed",
        "180.00",
        None,
    ),
    (
        "parcel_shelf",
        "快递货架",
        "Parcel shelf",
        Category::Equipment,
        "个",
        "shelf",
        "260.00",
        None,
    ),
    (
        "hand_warmer",
        "暖宝宝",
        "Hand warmer",
        Category::DailyNecessities,
        "片",
        "piece",
        "1.00",
        Some(730),
    ),
    (
        "vegetable_pack",
        "蔬菜包",
        "Vegetable pack",
        Category::Food,
        "份",
        "pack",
        "30.00",
        Some(3),
    ),
    (
        "dumplings",
        "速冻水饺",
        "Frozen dumplings",
        Category::Food,
        "袋",
        "bag",
        "15.00",
        Some(180),
    ),
    (
        "energy_pack",
        "能量包",
        "Energy pack",
        Category::Food,
        "份",
        "pack",
        "25.00",
        Some(180),
    ),
    (
        "boxed_meal",
        "盒饭",
        "Boxed meal",
        Category::Meals,
        "份",
        "meal",
        "20.00",
        Some(1),
    ),
    (
        "chronic_medicine",
        "慢性病常用药代购",
        "Chronic-illness medicine run",
        Category::Medicine,
        "次",
        "run",
        "0.00",
        None,
    ),
    (
        "volunteer_allowance",
        "志愿者补贴",
        "Volunteer allowance",
        Category::Subsidy,
        "人天",
        "person-day",
        "50.00",
        None,
    ),
    (
        "staff_subsidy",
        "一线人员补贴",
        "Frontline staff subsidy",
        Category::Subsidy,
        "人天",
        "person-day",
        "100.00",
        None,
    ),
    (
        "psych_support",
        "心理疏导",
        "Psychological support call",
        Category::Service,
        "次",
        "call",
        "0.00",
        None,
    ),
];

/// The epidemic-prevention pack of the field notes: masks, alcohol, 84 disinfectant and wipes.
const EPIDEMIC_PACK: &[(&str, i64)] = &[
    ("mask", 10),
    ("alcohol_75", 1),
    ("disinfectant_84", 1),
    ("wipes", 1),
];

/// The demo accounts: email, password, role, display name.
pub const ACCOUNTS: &[(&str, &str, Role, &str)] = &[
    (
        "admin@weave.demo",
        "weave-admin-2020",
        Role::Admin,
        "系统管理员",
    ),
    (
        "hub@weave.demo",
        "weave-hub-2020",
        Role::HubCoordinator,
        "枢纽协调员 张敏",
    ),
    (
        "secretary@weave.demo",
        "weave-secretary-2020",
        Role::CommunitySecretary,
        "多闻社区书记 刘芳",
    ),
    (
        "donor@weave.demo",
        "weave-donor-2020",
        Role::Donor,
        "汉口商会 捐赠联络人",
    ),
    (
        "supplier@weave.demo",
        "weave-supplier-2020",
        Role::Supplier,
        "汉阳防护用品 销售",
    ),
    (
        "foundation@weave.demo",
        "weave-foundation-2020",
        Role::FoundationStaff,
        "基金会项目官员 陈静",
    ),
];

pub async fn is_loaded(db: &Db) -> anyhow::Result<bool> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
        .bind(ACCOUNTS[0].0)
        .fetch_one(db.pool())
        .await?;
    Ok(count > 0)
}

pub fn credentials() -> String {
    let mut out = String::from("\nDemo accounts (email / password / role):\n");
    for (email, password, role, _) in ACCOUNTS {
        let _ = writeln!(out, "  {email:<24} {password:<24} {}", role.as_str());
    }
    out
}

/// Loads the demo hub in one transaction; refuses to load it twice.
pub async fn load(db: &Db) -> anyhow::Result<String> {
    if is_loaded(db).await? {
        anyhow::bail!("the demo data is already loaded in this database");
    }
    let mut hashes = Vec::new();
    for (_, password, _, _) in ACCOUNTS {
        hashes.push(password::hash((*password).to_owned()).await?);
    }
    let mut tx = db.begin().await?;
    let item_ids = load_catalogue(&mut tx).await?;
    let mut community_ids = Vec::new();
    for c in COMMUNITIES {
        let input = OrganisationInput {
            kind: OrgKind::Community,
            donor_type: None,
            name_zh: c.name_zh.into(),
            name_en: Some(format!("{} Community", c.name_en)),
            district: c.district.into(),
            address: Some(format!("武汉市{}{}", c.district, c.name_zh)),
            location: Some(GeoPoint {
                lat: c.lat,
                lon: c.lon,
            }),
            contact: Contact {
                name: Some("社区办公室".into()),
                phone: None,
                email: None,
            },
            headcounts: Headcounts {
                households: Some(c.households),
                residents: Some(c.residents),
                residents_over_60: Some(c.over_60),
                elders_living_alone: Some(c.alone),
            },
        };
        community_ids.push(insert(&mut tx, input).await?);
    }
    let mut other_ids = Vec::new();
    for o in OTHERS {
        let input = OrganisationInput {
            kind: o.kind,
            donor_type: o.donor_type,
            name_zh: o.name_zh.into(),
            name_en: Some(o.name_en.into()),
            district: o.district.into(),
            address: None,
            location: None,
            contact: Contact {
                name: None,
                phone: Some(o.contact.into()),
                // Donors get an address so the feedback batch has someone to write to; in the
                // demo, mail without an SMTP server lands as .eml files under data/outbox.
                email: (o.kind == OrgKind::Donor).then(|| {
                    format!(
                        "{}@donors.weave.demo",
                        o.name_en.to_lowercase().replace(' ', ".")
                    )
                }),
            },
            headcounts: Headcounts::default(),
        };
        other_ids.push((o.kind, o.name_zh, insert(&mut tx, input).await?));
    }
    let find = |name: &str| {
        other_ids
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(_, _, id)| *id)
    };
    for ((email, _, role, name), hash) in ACCOUNTS.iter().zip(&hashes) {
        let orgs: Vec<i64> = match role {
            Role::CommunitySecretary => community_ids[..2].to_vec(),
            Role::Donor => find("汉口商会").into_iter().collect(),
            Role::Supplier => find("汉阳防护用品有限公司").into_iter().collect(),
            _ => Vec::new(),
        };
        let new = accounts::NewUser {
            email,
            display_name: name,
            role: *role,
            password_hash: hash,
            organisation_ids: &orgs,
        };
        let id = accounts::create_user(tx.conn(), new)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let after =
            serde_json::json!({ "email": email, "role": role.as_str(), "organisations": orgs });
        audit::record(
            tx.conn(),
            Actor::System("demo"),
            "create",
            "user",
            id,
            None::<&()>,
            Some(&after),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let hub_user: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(ACCOUNTS[1].0)
        .fetch_one(tx.conn())
        .await?;
    let counts = load_activity(&mut tx, hub_user, &community_ids, &item_ids, &find).await?;
    tx.commit().await?;
    Ok(format!(
        "Loaded the demo hub: {} communities, {} other organisations, {} catalogue items, {counts}, {} accounts.\n{}",
        COMMUNITIES.len(),
        OTHERS.len(),
        item_ids.len(),
        ACCOUNTS.len(),
        credentials()
    ))
}

/// A day of the emergency: open needs from every community, pledges of money and goods, a
/// standing offer and a dormant framework agreement.
async fn load_activity(
    tx: &mut crate::db::Tx,
    hub_user: i64,
    communities: &[i64],
    items: &[(&'static str, i64)],
    find: &dyn Fn(&str) -> Option<i64>,
) -> anyhow::Result<String> {
    use crate::{
        needs::model::{BeneficiaryGroup as G, DeliveryMode, Subsidy, Urgency, ValidNeed},
        pledges::model::{Earmark, PledgeKind, PledgeStatus, ValidPledge},
        suppliers::model::OfferTerms,
    };
    let item = |code: &str| {
        items
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, id)| *id)
            .expect("demo item")
    };
    let today = crate::needs::today();
    let day = |n: i64| Some(today + chrono::Duration::days(n));
    // (item, quantity, urgency, group, beneficiaries, days until needed, delivery)
    let pattern: &[(&str, i64, Urgency, G, i64, i64, DeliveryMode)] = &[
        (
            "mask",
            440,
            Urgency::Critical,
            G::EldersLivingAlone,
            220,
            1,
            DeliveryMode::HomeDelivery,
        ),
        (
            "vegetable_pack",
            220,
            Urgency::High,
            G::EldersLivingAlone,
            220,
            2,
            DeliveryMode::HomeDelivery,
        ),
        (
            "disinfectant_84",
            120,
            Urgency::Normal,
            G::Residents,
            1900,
            5,
            DeliveryMode::Pickup,
        ),
        (
            "thermometer",
            4,
            Urgency::High,
            G::CommunityWorkers,
            12,
            3,
            DeliveryMode::Pickup,
        ),
        (
            "boxed_meal",
            60,
            Urgency::Critical,
            G::QuarantinedHouseholds,
            60,
            1,
            DeliveryMode::HomeDelivery,
        ),
    ];
    let mut needs = 0;
    for (n, &community) in communities.iter().enumerate() {
        let district: String =
            sqlx::query_scalar("SELECT district FROM organisations WHERE id = $1")
                .bind(community)
                .fetch_one(tx.conn())
                .await?;
        // Each community asks for a different share of the day's list, scaled a little.
        for (k, &(code, quantity, urgency, group, count, days, delivery)) in
            pattern.iter().enumerate()
        {
            if (n + k) % 4 == 3 {
                continue;
            }
            let need = ValidNeed {
                community_id: community,
                item_id: Some(item(code)),
                kit_id: None,
                quantity: quantity + (n as i64 % 3) * quantity / 10,
                subsidy: None,
                urgency,
                beneficiary_group: group,
                beneficiary_count: count,
                needed_by: day(days),
                delivery_mode: delivery,
                note: None,
            };
            crate::needs::store::insert(tx.conn(), &need, &district, Some(hub_user)).await?;
            needs += 1;
        }
        if n < 4 {
            let allowance = ValidNeed {
                community_id: community,
                item_id: Some(item("volunteer_allowance")),
                kit_id: None,
                quantity: 30 * 7,
                subsidy: Some(Subsidy {
                    headcount: 30,
                    days: 7,
                    rate: Money::from_fen(5000),
                }),
                urgency: Urgency::Normal,
                beneficiary_group: G::Volunteers,
                beneficiary_count: 30,
                needed_by: day(7),
                delivery_mode: DeliveryMode::Pickup,
                note: Some("社区志愿者一周补贴".into()),
            };
            crate::needs::store::insert(tx.conn(), &allowance, &district, Some(hub_user)).await?;
            needs += 1;
        }
    }
    let chamber = find("汉口商会").expect("demo donor");
    let pharma = find("长江医药集团").expect("demo donor");
    let wang = find("王女士").expect("demo donor");
    let pledges = [
        (
            chamber,
            PledgeKind::Money,
            Some(Money::from_fen(20_000_000)),
            None,
            None,
            Earmark {
                categories: vec![Category::Protective, Category::Disinfection],
                ..Earmark::default()
            },
            PledgeStatus::Received,
        ),
        (
            chamber,
            PledgeKind::Money,
            Some(Money::from_fen(5_000_000)),
            None,
            None,
            Earmark {
                groups: vec![G::EldersLivingAlone],
                districts: vec!["江汉区".into()],
                ..Earmark::default()
            },
            PledgeStatus::Pledged,
        ),
        (
            pharma,
            PledgeKind::Goods,
            None,
            Some(item("mask")),
            Some(3000),
            Earmark {
                project: Some(DEMO_PROJECT.into()),
                ..Earmark::default()
            },
            PledgeStatus::Received,
        ),
        (
            pharma,
            PledgeKind::Goods,
            None,
            Some(item("alcohol_75")),
            Some(400),
            Earmark::default(),
            PledgeStatus::Pledged,
        ),
        (
            wang,
            PledgeKind::Money,
            Some(Money::from_fen(200_000)),
            None,
            None,
            Earmark::default(),
            PledgeStatus::Received,
        ),
    ];
    let ledgers = Ledgers::open(tx, hub_user, communities, find).await?;
    for (donor, kind, amount, item_id, quantity, earmark, status) in pledges.iter().cloned() {
        let pledge = ValidPledge {
            donor_id: donor,
            kind,
            amount,
            item_id,
            quantity,
            expires_on: None,
            available_from: None,
            pickup_location: None,
            earmark,
            note: None,
        };
        let id = crate::pledges::store::insert(tx.conn(), &pledge, hub_user).await?;
        // Received gifts arrive the way the books record them: goods into the warehouse,
        // money into the project's funds.
        match (status, quantity) {
            (PledgeStatus::Received, Some(units)) => ledgers.receive_goods(tx, id, units).await?,
            (PledgeStatus::Received, None) => {
                ledgers
                    .receive_money(tx, id, amount.unwrap_or_default())
                    .await?
            }
            _ => {}
        }
    }
    ledgers.spend(tx).await?;
    let protective = find("汉阳防护用品有限公司").expect("demo supplier");
    let produce = find("白沙洲农副产品市场").expect("demo supplier");
    let terms = |code: &str, price: i64, capacity: i64, lead: i64| OfferTerms {
        item_id: item(code),
        unit_price: Money::from_fen(price),
        weekly_capacity: capacity,
        lead_days: lead,
        min_order: None,
        valid_from: None,
        valid_until: None,
    };
    crate::suppliers::store::insert_offer(
        tx.conn(),
        produce,
        None,
        &terms("vegetable_pack", 2800, 3000, 1),
    )
    .await?;
    crate::suppliers::store::insert_offer(
        tx.conn(),
        protective,
        None,
        &terms("disinfectant_84", 750, 2000, 2),
    )
    .await?;
    let agreement = crate::suppliers::store::insert_agreement(
        tx.conn(),
        protective,
        "应急防护用品框架协议",
        None,
        Some("平时不下单；启动应急响应后按协议价供货"),
    )
    .await?;
    for t in [
        terms("mask", 110, 20_000, 1),
        terms("n95", 600, 2_000, 2),
        terms("gloves", 70, 10_000, 1),
    ] {
        crate::suppliers::store::insert_offer(tx.conn(), protective, Some(agreement), &t).await?;
    }
    Ok(format!("{needs} open needs, {} pledges, 3 supplier offers under 1 dormant agreement and 2 standing offers", pledges.len()))
}

async fn load_catalogue(tx: &mut crate::db::Tx) -> anyhow::Result<Vec<(&'static str, i64)>> {
    let mut ids = Vec::new();
    for &(code, zh, en, category, unit_zh, unit_en, price, shelf_life_days) in ITEMS {
        let input = ItemInput {
            code: code.into(),
            name_zh: zh.into(),
            name_en: Some(en.into()),
            category,
            unit_zh: unit_zh.into(),
            unit_en: Some(unit_en.into()),
            reference_price: Some(price.parse().map_err(|e| anyhow::anyhow!("{code}: {e}"))?),
            shelf_life_days,
        };
        let item =
            ValidItem::parse(input).map_err(|e| anyhow::anyhow!("demo item invalid: {e:?}"))?;
        let created = catalogue::store::insert_item(tx.conn(), &item).await?;
        audit::record(
            tx.conn(),
            Actor::System("demo"),
            "create",
            "item",
            created.id,
            None::<&()>,
            Some(&created),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push((code, created.id));
    }
    let id_of = |code: &str| {
        ids.iter()
            .find(|(c, _)| *c == code)
            .map(|(_, id)| *id)
            .expect("demo item")
    };
    let kit = KitInput {
        code: "epidemic_pack".into(),
        name_zh: "防疫包".into(),
        name_en: Some("Epidemic-prevention pack".into()),
        items: EPIDEMIC_PACK
            .iter()
            .map(|&(code, quantity)| KitLine {
                item_id: id_of(code),
                quantity,
            })
            .collect(),
    };
    let kit = ValidKit::parse(kit).map_err(|e| anyhow::anyhow!("demo kit invalid: {e:?}"))?;
    let kit_id = catalogue::store::insert_kit(tx.conn(), &kit).await?;
    audit::record(
        tx.conn(),
        Actor::System("demo"),
        "create",
        "kit",
        kit_id,
        None::<&()>,
        Some(&kit.0.code),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(ids)
}

async fn insert(tx: &mut crate::db::Tx, input: OrganisationInput) -> anyhow::Result<i64> {
    let org = ValidOrganisation::parse(input)
        .map_err(|e| anyhow::anyhow!("demo record invalid: {e:?}"))?;
    let created = store::insert(tx.conn(), &org).await?;
    audit::record(
        tx.conn(),
        Actor::System("demo"),
        "create",
        "organisation",
        created.id,
        None::<&()>,
        Some(&created),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(created.id)
}

/// The demo project: the goods and money of the demo's gifts are accounted for in it.
const DEMO_PROJECT: &str = "江汉区社区防疫应急项目";

/// The demo's stock and fund books: a hub warehouse with a station in the first two
/// communities, and a project shaped like seed 003's closing report.
struct Ledgers {
    user: i64,
    warehouse: i64,
    project: i64,
    lines: Vec<i64>,
}

impl Ledgers {
    async fn open(
        tx: &mut crate::db::Tx,
        user: i64,
        communities: &[i64],
        find: &dyn Fn(&str) -> Option<i64>,
    ) -> anyhow::Result<Ledgers> {
        let hub = find("江汉区社区支持枢纽");
        let warehouse = insert_location(
            tx,
            "warehouse",
            "江汉区应急物资枢纽仓库",
            Some("Jianghan hub warehouse"),
            hub,
        )
        .await?;
        for (community, name) in communities.iter().zip(["多闻社区服务站", "民意社区服务站"])
        {
            insert_location(tx, "station", name, None, Some(*community)).await?;
        }
        let line = |category: &str, fen: i64| crate::funds::model::BudgetLineInput {
            category: category.into(),
            unit_price: None,
            quantity: None,
            unit: None,
            amount: Money::from_fen(fen),
        };
        let today = crate::needs::today();
        let input = crate::funds::model::ProjectInput {
            name_zh: DEMO_PROJECT.into(),
            name_en: Some("Jianghan community emergency relief".into()),
            foundation_id: find("江城社区公益基金会"),
            implementers: "江汉区社区支持枢纽".into(),
            funders: "汉口商会、王女士及社区居民".into(),
            area: "武汉市江汉区".into(),
            starts_on: today - chrono::Duration::days(14),
            ends_on: today + chrono::Duration::days(76),
            goals: "为独居老人、困难家庭和一线社区工作者送去防护物资、爱心菜和补贴".into(),
            direct_beneficiaries: 1479,
            budget_lines: vec![
                line("防护用品类(口罩、酒精、消毒液)", 10_000_000),
                line("生活用品类(困难弱势群体)", 3_000_000),
                crate::funds::model::BudgetLineInput {
                    category: "孤寡、残疾、独居老人餐费".into(),
                    unit_price: Some(Money::from_fen(3_000)),
                    quantity: Some(1000),
                    unit: Some("份".into()),
                    amount: Money::from_fen(3_000_000),
                },
                line("线下服务交通费用", 1_000_000),
                crate::funds::model::BudgetLineInput {
                    category: "志愿者补贴".into(),
                    unit_price: Some(Money::from_fen(5_000)),
                    quantity: None,
                    unit: Some("元/人/天".into()),
                    amount: Money::from_fen(18_000_000),
                },
            ],
            indicators: vec![
                crate::funds::model::IndicatorInput {
                    name: "送防疫包".into(),
                    target: Some(800),
                    unit: "户".into(),
                },
                crate::funds::model::IndicatorInput {
                    name: "送爱心菜".into(),
                    target: Some(600),
                    unit: "户".into(),
                },
            ],
        };
        let project = crate::funds::insert_project(tx, &input, user)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let lines = sqlx::query_scalar(
            "SELECT id FROM budget_lines WHERE project_id = $1 ORDER BY position",
        )
        .bind(project)
        .fetch_all(tx.conn())
        .await?;
        Ok(Ledgers {
            user,
            warehouse,
            project,
            lines,
        })
    }

    async fn receive_goods(
        &self,
        tx: &mut crate::db::Tx,
        pledge: i64,
        units: i64,
    ) -> anyhow::Result<()> {
        let input = crate::stock::MovementInput::Receive {
            location_id: self.warehouse,
            quantity: units,
            pledge_id: Some(pledge),
            allocation_id: None,
            expires_on: Some(crate::needs::today() + chrono::Duration::days(180)),
            lot_code: None,
        };
        crate::stock::apply(tx, Some(self.user), &input)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    async fn receive_money(
        &self,
        tx: &mut crate::db::Tx,
        pledge: i64,
        amount: Money,
    ) -> anyhow::Result<()> {
        let input = crate::funds::model::ReceiptInput {
            project_id: self.project,
            pledge_id: pledge,
            amount,
            received_on: None,
        };
        crate::funds::receipt_in(
            tx,
            Actor::System("demo"),
            self.user,
            input,
            crate::needs::today(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    /// The first days' spending: transport, and meals money moved to volunteer subsidies.
    async fn spend(&self, tx: &mut crate::db::Tx) -> anyhow::Result<()> {
        let payment = crate::funds::model::DisbursementInput {
            project_id: self.project,
            budget_line_id: self.lines[3],
            kind: crate::funds::model::DisbursementKind::Transport,
            fund: "general".into(),
            amount: Some(Money::from_fen(79_000)),
            payee: "社区志愿车队".into(),
            supplier_id: None,
            allocation_ids: Vec::new(),
            subsidy: None,
            paid_on: None,
            memo: Some("线下服务交通费".into()),
            override_reason: None,
        };
        crate::funds::disbursement_in(
            tx,
            Actor::System("demo"),
            self.user,
            payment,
            crate::needs::today(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let adjustment = crate::funds::model::AdjustmentInput {
            project_id: self.project,
            from_line_id: self.lines[2],
            to_line_id: self.lines[4],
            amount: Money::from_fen(500_000),
            reason: "餐费由社区食堂承担一部分，5000元调整为志愿者补贴".into(),
        };
        crate::funds::adjustment_in(tx, Actor::System("demo"), self.user, adjustment)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

async fn insert_location(
    tx: &mut crate::db::Tx,
    kind: &str,
    name_zh: &str,
    name_en: Option<&str>,
    organisation: Option<i64>,
) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO locations (kind, name_zh, name_en, organisation_id, district, created_at) \
         VALUES ($1, $2, $3, $4, '江汉区', $5) RETURNING id",
    )
    .bind(kind)
    .bind(name_zh)
    .bind(name_en)
    .bind(organisation)
    .bind(crate::db::now())
    .fetch_one(tx.conn())
    .await?)
}
