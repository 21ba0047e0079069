//! Catalogue entries: items with a category, unit, reference price and shelf life, and kits
//! (bundles of items, such as the epidemic-prevention pack).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{error::AppError, money::Money, validate::Fields};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Protective,
    Disinfection,
    Food,
    Meals,
    DailyNecessities,
    Medicine,
    Equipment,
    Subsidy,
    Service,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Protective,
        Category::Disinfection,
        Category::Food,
        Category::Meals,
        Category::DailyNecessities,
        Category::Medicine,
        Category::Equipment,
        Category::Subsidy,
        Category::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Protective => "protective",
            Category::Disinfection => "disinfection",
            Category::Food => "food",
            Category::Meals => "meals",
            Category::DailyNecessities => "daily_necessities",
            Category::Medicine => "medicine",
            Category::Equipment => "equipment",
            Category::Subsidy => "subsidy",
            Category::Service => "service",
        }
    }

    pub fn parse(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl std::str::FromStr for Category {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Category::parse(text).ok_or_else(|| format!("unknown category `{text}`"))
    }
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// Short stable code, lower-case letters, digits and `_`, e.g. `mask`.
    pub code: String,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub category: Category,
    /// Unit in Chinese, e.g. 个, 瓶, 份, 人天.
    pub unit_zh: String,
    pub unit_en: Option<String>,
    /// Reference price per unit in yuan, as a decimal string.
    pub reference_price: Option<Money>,
    /// For perishables: days from receipt until it must be used.
    pub shelf_life_days: Option<i64>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Item {
    pub id: i64,
    pub code: String,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub category: Category,
    pub unit_zh: String,
    pub unit_en: Option<String>,
    pub reference_price: Option<Money>,
    pub shelf_life_days: Option<i64>,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

pub struct ValidItem(pub ItemInput);

impl ValidItem {
    pub fn parse(mut input: ItemInput) -> Result<ValidItem, AppError> {
        let mut f = Fields::new();
        input.code = check_code(&mut f, &input.code);
        input.name_zh = f.required_text("name_zh", &input.name_zh, 120);
        input.name_en = f.optional_text("name_en", input.name_en.as_deref(), 120);
        input.unit_zh = f.required_text("unit_zh", &input.unit_zh, 20);
        input.unit_en = f.optional_text("unit_en", input.unit_en.as_deref(), 20);
        f.range_i64("shelf_life_days", input.shelf_life_days, 1, 36_500);
        f.finish()?;
        Ok(ValidItem(input))
    }
}

fn check_code(f: &mut Fields, code: &str) -> String {
    let code = f.required_text("code", code, 40);
    if !code
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        f.push(
            "code",
            "invalid",
            "use lower-case letters, digits and _ only",
        );
    }
    code
}

#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KitLine {
    pub item_id: i64,
    /// Units of the item in one kit.
    pub quantity: i64,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KitInput {
    pub code: String,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub items: Vec<KitLine>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KitItem {
    pub item_id: i64,
    pub code: String,
    pub name_zh: String,
    pub unit_zh: String,
    pub quantity: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Kit {
    pub id: i64,
    pub code: String,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub status: String,
    pub items: Vec<KitItem>,
    pub created_at: String,
}

pub struct ValidKit(pub KitInput);

impl ValidKit {
    pub fn parse(mut input: KitInput) -> Result<ValidKit, AppError> {
        let mut f = Fields::new();
        input.code = check_code(&mut f, &input.code);
        input.name_zh = f.required_text("name_zh", &input.name_zh, 120);
        input.name_en = f.optional_text("name_en", input.name_en.as_deref(), 120);
        if input.items.is_empty() {
            f.push("items", "required", "a kit holds at least one item");
        }
        let mut seen = std::collections::HashSet::new();
        for (i, line) in input.items.iter().enumerate() {
            f.range_i64(
                &format!("items[{i}].quantity"),
                Some(line.quantity),
                1,
                100_000,
            );
            if !seen.insert(line.item_id) {
                f.push(
                    &format!("items[{i}].item_id"),
                    "duplicate",
                    "each item appears once in a kit",
                );
            }
        }
        f.finish()?;
        Ok(ValidKit(input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_codes_are_simple() {
        let input = ItemInput {
            code: "Mask N95".into(),
            name_zh: "口罩".into(),
            name_en: None,
            category: Category::Protective,
            unit_zh: "个".into(),
            unit_en: None,
            reference_price: None,
            shelf_life_days: Some(0),
        };
        match ValidItem::parse(input) {
            Err(AppError::Validation(errors)) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["code", "shelf_life_days"]);
            }
            _ => panic!("expected validation errors"),
        }
    }

    #[test]
    fn kits_need_items_once_each() {
        let line = KitLine {
            item_id: 1,
            quantity: 10,
        };
        let input = KitInput {
            code: "pack".into(),
            name_zh: "防疫包".into(),
            name_en: None,
            items: vec![line.clone(), line],
        };
        assert!(matches!(
            ValidKit::parse(input),
            Err(AppError::Validation(_))
        ));
    }
}
