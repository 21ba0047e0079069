//! Bulk posting from the day's sheet (CSV or XLSX, one row per need, headers in Chinese or
//! English), and the downloadable template for it. Every row gets either its created need or
//! its exact errors; by default a sheet with any bad row creates nothing.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{BeneficiaryGroup, DeliveryMode, Need, NeedInput, Subsidy, Urgency};
use crate::{
    error::{AppError, FieldError},
    validate::Fields,
    web::Lang,
};

/// The sheet's columns: key, Chinese header, English header, example value.
pub const COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("community", "社区", "Community", "多闻社区"),
    ("item", "物资或物资包", "Item or kit", "mask"),
    ("quantity", "数量", "Quantity", "500"),
    ("urgency", "紧急程度", "Urgency", "critical"),
    (
        "beneficiary_group",
        "受益人群",
        "Beneficiary group",
        "elders_living_alone",
    ),
    ("beneficiary_count", "受益人数", "Beneficiaries", "220"),
    ("needed_by", "需要日期", "Needed by", "2020-02-12"),
    ("delivery_mode", "配送方式", "Delivery", "home_delivery"),
    ("headcount", "补贴人数", "Subsidy headcount", ""),
    ("days", "补贴天数", "Subsidy days", ""),
    (
        "rate",
        "补贴标准（元/人/天）",
        "Subsidy rate (yuan per person per day)",
        "",
    ),
    ("note", "备注", "Note", "独居老人每户 2 个"),
];

/// Chinese words people type in the sheet for the enumerated columns.
const ZH_VALUES: &[(&str, &str)] = &[
    ("特急", "critical"),
    ("紧急", "high"),
    ("一般", "normal"),
    ("独居长者", "elders_living_alone"),
    ("独居老人", "elders_living_alone"),
    ("残障人士", "disabled"),
    ("低收入家庭", "low_income"),
    ("重症患者", "severe_patients"),
    ("一线医护", "frontline_medical_staff"),
    ("社区工作者", "community_workers"),
    ("志愿者", "volunteers"),
    ("隔离家庭", "quarantined_households"),
    ("普通居民", "residents"),
    ("居民", "residents"),
    ("送货上门", "home_delivery"),
    ("自提", "pickup"),
];

text_enum!(
    /// `all_or_nothing` (default): any bad row and nothing is created. `good_rows`: the good
    /// rows are created and the bad ones reported.
    ImportMode { AllOrNothing = "all_or_nothing", GoodRows = "good_rows" }
);

#[derive(Debug, Serialize, ToSchema)]
pub struct RowResult {
    /// Row number in the sheet as a spreadsheet shows it (the header is row 1).
    pub row: usize,
    /// `created`, `valid` (good, but not created because another row was bad) or `error`.
    pub status: String,
    pub need: Option<Need>,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub mode: ImportMode,
    pub created: usize,
    pub rejected: usize,
    pub rows: Vec<RowResult>,
}

/// Names in the sheet resolved to ids: communities by id or Chinese name, items and kits by
/// code, Chinese or English name.
#[derive(Default)]
pub struct Lookup {
    pub communities: HashMap<String, i64>,
    pub items: HashMap<String, i64>,
    pub kits: HashMap<String, i64>,
}

pub const MAX_ROWS: usize = 5_000;

/// Reads a sheet into rows of cell text (dates as YYYY-MM-DD, whole numbers without ".0").
pub fn read_sheet(bytes: &[u8], xlsx: bool) -> Result<Vec<Vec<String>>, AppError> {
    let unreadable = |e: String| AppError::BadRequest {
        code: "unreadable_sheet",
        detail: e,
    };
    let rows = if xlsx {
        use calamine::{Data, DataType, Reader};
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
                .map_err(|e| unreadable(format!("not an XLSX file: {e}")))?;
        let range = book
            .worksheet_range_at(0)
            .ok_or_else(|| unreadable("the workbook has no sheet".into()))?
            .map_err(|e| unreadable(e.to_string()))?;
        range
            .rows()
            .map(|row| {
                row.iter()
                    .map(|cell| match cell {
                        Data::Empty => String::new(),
                        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                            format!("{}", *f as i64)
                        }
                        Data::DateTime(_) | Data::DateTimeIso(_) => cell
                            .as_date()
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| cell.to_string()),
                        other => other.to_string().trim().to_owned(),
                    })
                    .collect()
            })
            .collect::<Vec<Vec<String>>>()
    } else {
        let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
            .map_err(|_| unreadable("the CSV file is not UTF-8 text".into()))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| unreadable(format!("bad CSV: {e}")))?;
            rows.push(record.iter().map(|c| c.trim().to_owned()).collect());
        }
        rows
    };
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .filter(|r| r.iter().any(|c| !c.is_empty()))
        .collect();
    if rows.len() > MAX_ROWS + 1 {
        return Err(AppError::validation(
            "file",
            "too_long",
            format!("at most {MAX_ROWS} rows per sheet"),
        ));
    }
    Ok(rows)
}

/// Which column holds which field, from the header row (Chinese or English headers).
fn header_map(header: &[String]) -> Result<HashMap<&'static str, usize>, AppError> {
    let mut map = HashMap::new();
    for (i, cell) in header.iter().enumerate() {
        let cell = cell.trim().to_lowercase();
        if let Some((key, ..)) = COLUMNS
            .iter()
            .find(|(key, zh, en, _)| cell == *key || cell == *zh || cell == en.to_lowercase())
        {
            map.insert(*key, i);
        }
    }
    let missing: Vec<FieldError> = [
        "item",
        "quantity",
        "urgency",
        "beneficiary_group",
        "delivery_mode",
    ]
    .into_iter()
    .filter(|k| !map.contains_key(k))
    .map(|k| FieldError::new(k, "required", "the header row has no column for this"))
    .collect();
    if missing.is_empty() && !map.contains_key("headcount") && !map.contains_key("quantity") {
        return Err(AppError::Validation(missing));
    }
    if !missing.is_empty() {
        return Err(AppError::Validation(missing));
    }
    Ok(map)
}

fn enum_value<T: std::str::FromStr<Err = String>>(
    text: &str,
    field: &str,
    f: &mut Fields,
) -> Option<T> {
    let plain = ZH_VALUES
        .iter()
        .find(|(zh, _)| *zh == text)
        .map(|(_, v)| *v)
        .unwrap_or(text);
    plain
        .parse::<T>()
        .map_err(|message| f.push(field, "unknown_value", message))
        .ok()
}

/// One data row as a need, or every problem in it. `default_community` is used when the sheet
/// has no community column (a secretary of one community).
pub fn parse_row(
    row: &[String],
    columns: &HashMap<&'static str, usize>,
    lookup: &Lookup,
    default_community: Option<i64>,
) -> Result<NeedInput, Vec<FieldError>> {
    let cell = |key: &str| {
        columns
            .get(key)
            .and_then(|&i| row.get(i))
            .map(String::as_str)
            .unwrap_or("")
            .trim()
    };
    let mut f = Fields::new();

    let community_id = match cell("community") {
        "" => default_community.or_else(|| {
            f.push("community", "required", "which community");
            None
        }),
        text => text
            .parse::<i64>()
            .ok()
            .or_else(|| lookup.communities.get(text).copied())
            .or_else(|| {
                f.push(
                    "community",
                    "unknown_value",
                    format!("no community called {text}"),
                );
                None
            }),
    };
    let what = cell("item");
    let key = what.to_lowercase();
    let (item_id, kit_id) = match (lookup.items.get(&key), lookup.kits.get(&key)) {
        (Some(&item), _) => (Some(item), None),
        (None, Some(&kit)) => (None, Some(kit)),
        (None, None) => {
            let message = if what.is_empty() {
                "which item or kit".to_owned()
            } else {
                format!("no item or kit called {what}")
            };
            f.push(
                "item",
                if what.is_empty() {
                    "required"
                } else {
                    "unknown_value"
                },
                message,
            );
            (None, None)
        }
    };
    let quantity = f.form_int("quantity", cell("quantity"));
    let urgency = enum_value::<Urgency>(cell("urgency"), "urgency", &mut f);
    let group =
        enum_value::<BeneficiaryGroup>(cell("beneficiary_group"), "beneficiary_group", &mut f);
    let delivery = enum_value::<DeliveryMode>(cell("delivery_mode"), "delivery_mode", &mut f);
    let beneficiary_count = f
        .form_int("beneficiary_count", cell("beneficiary_count"))
        .unwrap_or(0);
    let needed_by = f.form_date("needed_by", cell("needed_by"));
    let headcount = f.form_int("headcount", cell("headcount"));
    let days = f.form_int("days", cell("days"));
    let rate = f.form_money("rate", cell("rate"));
    let subsidy = match (headcount, days, rate) {
        (None, None, None) => None,
        (Some(headcount), Some(days), Some(rate)) => Some(Subsidy {
            headcount,
            days,
            rate,
        }),
        _ => {
            f.push(
                "headcount",
                "required",
                "a subsidy needs headcount, days and rate together",
            );
            None
        }
    };
    let note = Some(cell("note").to_owned()).filter(|n| !n.is_empty());
    match (community_id, urgency, group, delivery) {
        (Some(community_id), Some(urgency), Some(beneficiary_group), Some(delivery_mode))
            if f.is_empty() =>
        {
            Ok(NeedInput {
                community_id,
                item_id,
                kit_id,
                quantity,
                subsidy,
                urgency,
                beneficiary_group,
                beneficiary_count,
                needed_by,
                delivery_mode,
                note,
            })
        }
        _ => Err(f.into_errors()),
    }
}

pub fn columns(rows: &[Vec<String>]) -> Result<HashMap<&'static str, usize>, AppError> {
    match rows.first() {
        Some(header) => header_map(header),
        None => Err(AppError::validation(
            "file",
            "required",
            "the sheet is empty",
        )),
    }
}

/// The blank sheet a secretary fills in: the header row in the chosen language and one example,
/// dated two days after `today` so the template imports as it is.
pub fn template(lang: Lang, xlsx: bool, today: NaiveDate) -> Result<Vec<u8>, AppError> {
    let header: Vec<&str> = COLUMNS
        .iter()
        .map(|(_, zh, en, _)| if lang == Lang::En { *en } else { *zh })
        .collect();
    let needed_by = (today + chrono::Duration::days(2)).to_string();
    let example: Vec<&str> = COLUMNS
        .iter()
        .map(|(key, .., example)| {
            if *key == "needed_by" {
                needed_by.as_str()
            } else {
                *example
            }
        })
        .collect();
    if !xlsx {
        let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        writer.write_record(&header).map_err(anyhow::Error::from)?;
        writer.write_record(&example).map_err(anyhow::Error::from)?;
        return writer
            .into_inner()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")));
    }
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let xlsx_error = |e: rust_xlsxwriter::XlsxError| AppError::Internal(anyhow::anyhow!("{e}"));
    let sheet = book.add_worksheet();
    sheet
        .set_name(if lang == Lang::En { "Needs" } else { "需求" })
        .map_err(xlsx_error)?;
    for (col, title) in header.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, *title, &bold)
            .map_err(xlsx_error)?;
        sheet.set_column_width(col as u16, 16).map_err(xlsx_error)?;
        let value = example[col];
        match value.parse::<f64>() {
            Ok(n) => sheet.write_number(1, col as u16, n).map_err(xlsx_error)?,
            Err(_) => sheet
                .write_string(1, col as u16, value)
                .map_err(xlsx_error)?,
        };
    }
    let help = book.add_worksheet();
    help.set_name(if lang == Lang::En {
        "Allowed values"
    } else {
        "可填写的值"
    })
    .map_err(xlsx_error)?;
    let lists: [(&str, Vec<&str>); 3] = [
        ("urgency", Urgency::ALL.iter().map(|v| v.as_str()).collect()),
        (
            "beneficiary_group",
            BeneficiaryGroup::ALL.iter().map(|v| v.as_str()).collect(),
        ),
        (
            "delivery_mode",
            DeliveryMode::ALL.iter().map(|v| v.as_str()).collect(),
        ),
    ];
    for (col, (name, values)) in lists.iter().enumerate() {
        help.write_string_with_format(0, col as u16, *name, &bold)
            .map_err(xlsx_error)?;
        help.set_column_width(col as u16, 26).map_err(xlsx_error)?;
        for (row, value) in values.iter().enumerate() {
            help.write_string(row as u32 + 1, col as u16, *value)
                .map_err(xlsx_error)?;
        }
    }
    book.save_to_buffer().map_err(xlsx_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup() -> Lookup {
        let mut l = Lookup::default();
        l.communities.insert("多闻社区".into(), 7);
        l.items.insert("mask".into(), 1);
        l.items.insert("一次性医用口罩".into(), 1);
        l.kits.insert("防疫包".into(), 3);
        l
    }

    fn sheet(text: &str) -> Vec<Vec<String>> {
        read_sheet(text.as_bytes(), false).unwrap()
    }

    #[test]
    fn chinese_headers_and_values_are_understood() {
        let rows = sheet("社区,物资或物资包,数量,紧急程度,受益人群,受益人数,需要日期,配送方式\n多闻社区,一次性医用口罩,500,特急,独居老人,220,2020/02/12,送货上门\n");
        let cols = columns(&rows).unwrap();
        let need = parse_row(&rows[1], &cols, &lookup(), None).unwrap();
        assert_eq!(
            (need.community_id, need.item_id, need.quantity),
            (7, Some(1), Some(500))
        );
        assert_eq!(need.urgency, Urgency::Critical);
        assert_eq!(need.beneficiary_group, BeneficiaryGroup::EldersLivingAlone);
        assert_eq!(need.delivery_mode, DeliveryMode::HomeDelivery);
        assert_eq!(need.needed_by, NaiveDate::from_ymd_opt(2020, 2, 12));
    }

    #[test]
    fn every_problem_in_a_row_is_named() {
        let rows = sheet("item,quantity,urgency,beneficiary_group,delivery_mode,needed_by\nrope,many,soon,everyone,drone,tomorrow\n");
        let cols = columns(&rows).unwrap();
        let errors = parse_row(&rows[1], &cols, &lookup(), Some(7)).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "item",
                "quantity",
                "urgency",
                "beneficiary_group",
                "delivery_mode",
                "needed_by"
            ]
        );
    }

    #[test]
    fn a_sheet_without_the_needed_columns_is_refused() {
        let rows = sheet("name,amount\nx,1\n");
        assert!(matches!(columns(&rows), Err(AppError::Validation(_))));
    }

    #[test]
    fn templates_round_trip_through_the_reader() {
        for lang in [Lang::ZhCn, Lang::En] {
            for xlsx in [false, true] {
                let bytes =
                    template(lang, xlsx, NaiveDate::from_ymd_opt(2020, 2, 10).unwrap()).unwrap();
                let rows = read_sheet(&bytes, xlsx).unwrap();
                let cols = columns(&rows).unwrap();
                let need = parse_row(&rows[1], &cols, &lookup(), None).unwrap();
                assert_eq!(need.quantity, Some(500), "{lang:?} xlsx={xlsx}");
                assert_eq!(need.community_id, 7);
            }
        }
    }
}
