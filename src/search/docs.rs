//! Search documents from the database: one per organisation, item, need, pledge and supplier
//! offer, with who may find it. Counts and names only — nothing personal is indexed.

use sqlx::{AnyConnection, Row};

use super::{Doc, Kind};

/// Who may find a document: `public` (anyone), `signed_in`, `staff` (admins, hub coordinators,
/// foundation staff), `donor:{org}` or `supplier:{org}`.
fn acl(parts: &[String]) -> Vec<String> {
    parts.to_vec()
}

fn or_empty(v: Option<String>) -> String {
    v.unwrap_or_default()
}

/// The documents of one kind: all of them, or the one with `id`.
pub async fn load(
    conn: &mut AnyConnection,
    kind: Kind,
    id: Option<i64>,
) -> Result<Vec<Doc>, sqlx::Error> {
    let only = id.map(|i| format!(" AND x.id = {i}")).unwrap_or_default();
    match kind {
        Kind::Organisation => {
            let rows = sqlx::query(&format!(
                "SELECT x.id, x.kind, x.name_zh, x.name_en, x.district, x.address, x.status FROM organisations x \
                 WHERE 1 = 1{only}"
            ))
            .fetch_all(conn)
            .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get("id");
                    let org_kind: String = r.get("kind");
                    Doc {
                        key: format!("organisation:{id}"),
                        kind,
                        record_id: id,
                        title_zh: r.get("name_zh"),
                        title_en: or_empty(r.get("name_en")),
                        text: format!(
                            "{} {}",
                            r.get::<String, _>("district"),
                            or_empty(r.get("address"))
                        ),
                        district: r.get("district"),
                        category: org_kind,
                        status: r.get("status"),
                        acl: acl(&["public".into()]),
                        link: format!("/organisations/{id}"),
                    }
                })
                .collect())
        }
        Kind::Item => {
            let rows = sqlx::query(&format!(
                "SELECT x.id, x.code, x.name_zh, x.name_en, x.category, x.unit_zh, x.status FROM items x WHERE 1 = 1{only}"
            ))
            .fetch_all(conn)
            .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get("id");
                    Doc {
                        key: format!("item:{id}"),
                        kind,
                        record_id: id,
                        title_zh: r.get("name_zh"),
                        title_en: or_empty(r.get("name_en")),
                        text: format!(
                            "{} {}",
                            r.get::<String, _>("code").replace('_', " "),
                            r.get::<String, _>("unit_zh")
                        ),
                        district: String::new(),
                        category: r.get("category"),
                        status: r.get("status"),
                        acl: acl(&["public".into()]),
                        link: "/catalogue".into(),
                    }
                })
                .collect())
        }
        Kind::Need => {
            let rows = sqlx::query(&format!(
                "SELECT x.id, x.district, x.quantity, x.urgency, x.beneficiary_group, x.note, x.status, \
                        o.name_zh AS community_zh, o.name_en AS community_en, \
                        COALESCE(i.name_zh, k.name_zh) AS what_zh, COALESCE(i.name_en, k.name_en) AS what_en, \
                        COALESCE(i.category, 'kit') AS category \
                 FROM needs x JOIN organisations o ON o.id = x.community_id \
                 LEFT JOIN items i ON i.id = x.item_id LEFT JOIN kits k ON k.id = x.kit_id WHERE 1 = 1{only}"
            ))
            .fetch_all(conn)
            .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get("id");
                    Doc {
                        key: format!("need:{id}"),
                        kind,
                        record_id: id,
                        title_zh: format!(
                            "{} · {}",
                            r.get::<String, _>("what_zh"),
                            r.get::<String, _>("community_zh")
                        ),
                        title_en: format!(
                            "{} · {}",
                            or_empty(r.get("what_en")),
                            or_empty(r.get("community_en"))
                        ),
                        text: format!(
                            "{} × {} {} {} {}",
                            r.get::<String, _>("what_zh"),
                            r.get::<i64, _>("quantity"),
                            group_words(&r.get::<String, _>("beneficiary_group")),
                            r.get::<String, _>("urgency"),
                            or_empty(r.get("note"))
                        ),
                        district: r.get("district"),
                        category: r.get("category"),
                        status: r.get("status"),
                        acl: acl(&["signed_in".into()]),
                        link: format!("/needs/{id}"),
                    }
                })
                .collect())
        }
        Kind::Pledge => {
            let rows = sqlx::query(&format!(
                "SELECT x.id, x.donor_id, x.kind, x.amount_fen, x.quantity, x.note, x.status, x.earmark_json, \
                        o.name_zh AS donor_zh, o.name_en AS donor_en, o.district, i.name_zh AS item_zh, i.name_en AS item_en, \
                        COALESCE(i.category, 'money') AS category \
                 FROM pledges x JOIN organisations o ON o.id = x.donor_id LEFT JOIN items i ON i.id = x.item_id WHERE 1 = 1{only}"
            ))
            .fetch_all(conn)
            .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get("id");
                    let what_zh = match r.get::<Option<String>, _>("item_zh") {
                        Some(item) => format!(
                            "{item} × {}",
                            r.get::<Option<i64>, _>("quantity").unwrap_or(0)
                        ),
                        None => format!(
                            "¥{}",
                            crate::money::Money::from_fen(
                                r.get::<Option<i64>, _>("amount_fen").unwrap_or(0)
                            )
                        ),
                    };
                    Doc {
                        key: format!("pledge:{id}"),
                        kind,
                        record_id: id,
                        title_zh: format!("{} · {what_zh}", r.get::<String, _>("donor_zh")),
                        title_en: format!(
                            "{} · {}",
                            or_empty(r.get("donor_en")),
                            or_empty(r.get("item_en"))
                        ),
                        text: format!(
                            "{} {}",
                            or_empty(r.get("note")),
                            r.get::<String, _>("earmark_json")
                        ),
                        district: r.get("district"),
                        category: r.get("category"),
                        status: r.get("status"),
                        acl: acl(&[
                            "staff".into(),
                            format!("donor:{}", r.get::<i64, _>("donor_id")),
                        ]),
                        link: format!("/pledges/{id}"),
                    }
                })
                .collect())
        }
        Kind::Offer => {
            let rows = sqlx::query(&format!(
                "SELECT x.id, x.supplier_id, x.unit_price_fen, x.weekly_capacity, x.status, o.name_zh AS supplier_zh, \
                        o.name_en AS supplier_en, o.district, i.name_zh AS item_zh, i.name_en AS item_en, i.category \
                 FROM supplier_offers x JOIN organisations o ON o.id = x.supplier_id JOIN items i ON i.id = x.item_id WHERE 1 = 1{only}"
            ))
            .fetch_all(conn)
            .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get("id");
                    Doc {
                        key: format!("offer:{id}"),
                        kind,
                        record_id: id,
                        title_zh: format!(
                            "{} · {}",
                            r.get::<String, _>("item_zh"),
                            r.get::<String, _>("supplier_zh")
                        ),
                        title_en: format!(
                            "{} · {}",
                            or_empty(r.get("item_en")),
                            or_empty(r.get("supplier_en"))
                        ),
                        text: format!(
                            "¥{} × {}",
                            crate::money::Money::from_fen(r.get("unit_price_fen")),
                            r.get::<i64, _>("weekly_capacity")
                        ),
                        district: r.get("district"),
                        category: r.get("category"),
                        status: r.get("status"),
                        acl: acl(&[
                            "staff".into(),
                            format!("supplier:{}", r.get::<i64, _>("supplier_id")),
                        ]),
                        link: "/supply".into(),
                    }
                })
                .collect())
        }
    }
}

/// The group in words both languages search by.
fn group_words(group: &str) -> &'static str {
    match group {
        "elders_living_alone" => "独居老人 elders living alone",
        "disabled" => "残障 disabled",
        "low_income" => "低收入 困难家庭 low income",
        "severe_patients" => "重症患者 severe patients",
        "frontline_medical_staff" => "一线医护 medical staff",
        "community_workers" => "社区工作者 community workers",
        "volunteers" => "志愿者 volunteers",
        "quarantined_households" => "居家隔离 quarantined",
        _ => "居民 residents",
    }
}
