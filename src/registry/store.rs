//! Queries for organisations. Each takes a connection so the caller chooses pool or transaction.

use serde::{Deserialize, Serialize};
use sqlx::{any::AnyRow, AnyConnection, Row};
use utoipa::{IntoParams, ToSchema};

use super::model::{
    Contact, DonorType, GeoPoint, Headcounts, OrgKind, Organisation, ValidOrganisation,
};
use crate::{db, extract::empty_as_none};

const COLUMNS: &str = "id, kind, donor_type, name_zh, name_en, district, address, lat_e6, lon_e6, \
    contact_name, contact_phone, contact_email, households, residents, residents_over_60, \
    elders_living_alone, status, archived_reason, archived_at, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<Organisation, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let donor_type: Option<String> = r.try_get("donor_type")?;
    let lat: Option<i64> = r.try_get("lat_e6")?;
    let lon: Option<i64> = r.try_get("lon_e6")?;
    Ok(Organisation {
        id: r.try_get("id")?,
        kind: OrgKind::parse(&kind).ok_or_else(|| sqlx::Error::Decode("unknown kind".into()))?,
        donor_type: donor_type.as_deref().and_then(DonorType::parse),
        name_zh: r.try_get("name_zh")?,
        name_en: r.try_get("name_en")?,
        district: r.try_get("district")?,
        address: r.try_get("address")?,
        location: lat
            .zip(lon)
            .map(|(lat, lon)| GeoPoint::from_micro_degrees(lat, lon)),
        contact: Contact {
            name: r.try_get("contact_name")?,
            phone: r.try_get("contact_phone")?,
            email: r.try_get("contact_email")?,
        },
        headcounts: Headcounts {
            households: r.try_get("households")?,
            residents: r.try_get("residents")?,
            residents_over_60: r.try_get("residents_over_60")?,
            elders_living_alone: r.try_get("elders_living_alone")?,
        },
        status: r.try_get("status")?,
        archived_reason: r.try_get("archived_reason")?,
        archived_at: r.try_get("archived_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(
    conn: &mut AnyConnection,
    org: &ValidOrganisation,
) -> Result<Organisation, sqlx::Error> {
    let now = db::now();
    let sql = format!(
        "INSERT INTO organisations (kind, donor_type, name_zh, name_en, district, address, lat_e6, lon_e6, \
         contact_name, contact_phone, contact_email, households, residents, residents_over_60, \
         elders_living_alone, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
         RETURNING {COLUMNS}"
    );
    let row = bind_fields(sqlx::query(&sql), org)
        .bind(now)
        .fetch_one(conn)
        .await?;
    from_row(&row)
}

pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    org: &ValidOrganisation,
) -> Result<Organisation, sqlx::Error> {
    let sql = format!(
        "UPDATE organisations SET kind = $1, donor_type = $2, name_zh = $3, name_en = $4, district = $5, \
         address = $6, lat_e6 = $7, lon_e6 = $8, contact_name = $9, contact_phone = $10, contact_email = $11, \
         households = $12, residents = $13, residents_over_60 = $14, elders_living_alone = $15, \
         updated_at = $16 WHERE id = $17 RETURNING {COLUMNS}"
    );
    let row = bind_fields(sqlx::query(&sql), org)
        .bind(db::now())
        .bind(id)
        .fetch_one(conn)
        .await?;
    from_row(&row)
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_fields<'q>(query: AnyQuery<'q>, org: &ValidOrganisation) -> AnyQuery<'q> {
    query
        .bind(org.kind.as_str())
        .bind(org.donor_type.map(DonorType::as_str))
        .bind(org.name_zh.clone())
        .bind(org.name_en.clone())
        .bind(org.district.clone())
        .bind(org.address.clone())
        .bind(org.location.map(|p| p.micro_degrees().0))
        .bind(org.location.map(|p| p.micro_degrees().1))
        .bind(org.contact.name.clone())
        .bind(org.contact.phone.clone())
        .bind(org.contact.email.clone())
        .bind(org.headcounts.households)
        .bind(org.headcounts.residents)
        .bind(org.headcounts.residents_over_60)
        .bind(org.headcounts.elders_living_alone)
}

pub async fn archive(
    conn: &mut AnyConnection,
    id: i64,
    reason: &str,
) -> Result<Organisation, sqlx::Error> {
    let now = db::now();
    let sql = format!(
        "UPDATE organisations SET status = 'archived', archived_reason = $1, archived_at = $2, \
         updated_at = $2 WHERE id = $3 RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(reason)
        .bind(now)
        .bind(id)
        .fetch_one(conn)
        .await?;
    from_row(&row)
}

/// One organisation; with `lock`, the row is locked for the rest of the transaction (PostgreSQL).
pub async fn get(
    conn: &mut AnyConnection,
    id: i64,
    lock: &str,
) -> Result<Organisation, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM organisations WHERE id = $1{lock}");
    let row = sqlx::query(&sql).bind(id).fetch_one(conn).await?;
    from_row(&row)
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganisationFilter {
    #[serde(default, deserialize_with = "empty_as_none")]
    pub kind: Option<OrgKind>,
    pub district: Option<String>,
    /// Part of a name, Chinese or English.
    pub q: Option<String>,
    /// `active` (default), `archived` or `all`.
    pub status: Option<String>,
    /// Page number, from 1.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub page: Option<i64>,
    /// Records per page, 1 to 200 (default 50).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationPage {
    pub items: Vec<Organisation>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl OrganisationFilter {
    pub fn window(&self) -> crate::paging::Window {
        crate::paging::Window::new(self.page, self.per_page)
    }

    fn status(&self) -> Option<&str> {
        match self.status.as_deref() {
            None | Some("") | Some("active") => Some("active"),
            Some("all") => None,
            Some(other) => Some(other),
        }
    }
}

pub async fn list(
    conn: &mut AnyConnection,
    filter: &OrganisationFilter,
) -> Result<OrganisationPage, sqlx::Error> {
    let pattern = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| format!("%{}%", q.to_lowercase()));
    let district = filter
        .district
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let condition = "(CAST($1 AS TEXT) IS NULL OR kind = $1) \
        AND (CAST($2 AS TEXT) IS NULL OR district = $2) \
        AND (CAST($3 AS TEXT) IS NULL OR status = $3) \
        AND (CAST($4 AS TEXT) IS NULL OR LOWER(name_zh) LIKE $4 OR LOWER(COALESCE(name_en, '')) LIKE $4)";
    let kind = filter.kind.map(OrgKind::as_str);
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM organisations WHERE {condition}"
    ))
    .bind(kind)
    .bind(district)
    .bind(filter.status())
    .bind(pattern.clone())
    .fetch_one(&mut *conn)
    .await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM organisations WHERE {condition} ORDER BY district, name_zh, id LIMIT $5 OFFSET $6"
    );
    let rows = sqlx::query(&sql)
        .bind(kind)
        .bind(district)
        .bind(filter.status())
        .bind(pattern)
        .bind(filter.window().per_page)
        .bind(filter.window().offset())
        .fetch_all(&mut *conn)
        .await?;
    Ok(OrganisationPage {
        items: rows.iter().map(from_row).collect::<Result<_, _>>()?,
        total,
        page: filter.window().page,
        per_page: filter.window().per_page,
    })
}

#[derive(Debug, Serialize)]
pub struct OrgName {
    pub id: i64,
    pub name_zh: String,
    pub kind: String,
}

pub async fn names(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<OrgName>, sqlx::Error> {
    let mut names = Vec::with_capacity(ids.len());
    for &id in ids {
        let row = sqlx::query("SELECT id, name_zh, kind FROM organisations WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        names.push(OrgName {
            id: row.get("id"),
            name_zh: row.get("name_zh"),
            kind: row.get("kind"),
        });
    }
    Ok(names)
}

/// Districts in use, for filter menus.
pub async fn districts(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT district FROM organisations ORDER BY district")
        .fetch_all(conn)
        .await
}
