//! The embedded search index at the size of a large hub: 100,000 records (organisations,
//! items, needs, pledges, offers) generated from a seeded RNG with Chinese and English names,
//! then typical queries timed. Prints one table.
//!
//!     cargo bench --bench search

use std::time::{Duration, Instant};

use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use weave::search::{embedded::Index, Doc, Kind, Query};

const ITEMS: [(&str, &str, &str); 12] = [
    ("一次性医用口罩", "Medical mask", "protective"),
    ("N95口罩", "N95 respirator", "protective"),
    ("84消毒液", "84 disinfectant", "disinfection"),
    ("75%酒精", "75% alcohol", "disinfection"),
    ("消毒湿巾", "Disinfecting wipes", "disinfection"),
    ("护目镜", "Goggles", "protective"),
    ("一次性手套", "Disposable gloves", "protective"),
    ("蔬菜包", "Vegetable pack", "food"),
    ("速冻水饺", "Frozen dumplings", "food"),
    ("爱心盒饭", "Boxed meal", "meals"),
    ("体温计", "Thermometer", "equipment"),
    ("常用药品代购", "Medicine run", "medicine"),
];
const DISTRICTS: [&str; 7] = [
    "江汉区",
    "江岸区",
    "武昌区",
    "硚口区",
    "汉阳区",
    "洪山区",
    "青山区",
];
const PLACES: [&str; 12] = [
    "多闻",
    "民意",
    "新华",
    "唐家墩",
    "常青",
    "前进",
    "花桥",
    "永清",
    "首义",
    "积玉桥",
    "古田",
    "钟家村",
];
const PLACES_EN: [&str; 12] = [
    "Duowen",
    "Minyi",
    "Xinhua",
    "Tangjiadun",
    "Changqing",
    "Qianjin",
    "Huaqiao",
    "Yongqing",
    "Shouyi",
    "Jiyuqiao",
    "Gutian",
    "Zhongjiacun",
];
const GROUPS: [&str; 5] = ["独居老人", "残障人士", "困难家庭", "一线医护", "志愿者"];

fn doc(
    kind: Kind,
    id: i64,
    title_zh: String,
    title_en: String,
    text: String,
    district: &str,
    category: &str,
) -> Doc {
    Doc {
        key: format!("{}:{id}", kind.as_str()),
        kind,
        record_id: id,
        title_zh,
        title_en,
        text,
        district: district.into(),
        category: category.into(),
        status: "open".into(),
        acl: vec!["public".into()],
        link: String::new(),
    }
}

fn generate(rng: &mut StdRng) -> Vec<Doc> {
    let mut docs = Vec::with_capacity(100_000);
    for i in 0..6_000 {
        let p = i % PLACES.len();
        let district = DISTRICTS[rng.gen_range(0..DISTRICTS.len())];
        docs.push(doc(
            Kind::Organisation,
            i as i64,
            format!("{}{}社区", PLACES[p], i),
            format!("{} {i} Community", PLACES_EN[p]),
            district.into(),
            district,
            "community",
        ));
    }
    for (i, (zh, en, category)) in ITEMS.iter().enumerate() {
        docs.push(doc(
            Kind::Item,
            i as i64,
            (*zh).into(),
            (*en).into(),
            String::new(),
            "",
            category,
        ));
    }
    let kinds = [
        (Kind::Need, 70_000),
        (Kind::Pledge, 20_000),
        (Kind::Offer, 3_988),
    ];
    for (kind, count) in kinds {
        for i in 0..count {
            let (zh, en, category) = ITEMS.choose(rng).expect("items");
            let p = rng.gen_range(0..PLACES.len());
            let district = DISTRICTS[rng.gen_range(0..DISTRICTS.len())];
            let group = GROUPS[rng.gen_range(0..GROUPS.len())];
            docs.push(doc(
                kind,
                i,
                format!("{zh} · {}{}社区", PLACES[p], rng.gen_range(0..6_000)),
                format!("{en} · {} Community", PLACES_EN[p]),
                format!(
                    "{zh} × {} {group} 送货上门 楼栋长代领",
                    rng.gen_range(1..2_000)
                ),
                district,
                category,
            ));
        }
    }
    docs
}

fn main() {
    let mut rng = StdRng::seed_from_u64(20_200_214);
    let docs = generate(&mut rng);
    let count = docs.len();
    let start = Instant::now();
    let mut index = Index::default();
    for d in docs {
        index.put(d);
    }
    let built = start.elapsed();
    println!("| records | query | results | p50 ms | p95 ms | runs |");
    println!("|---|---|---|---|---|---|");
    let queries = [
        "口罩",
        "消毒",
        "罩",
        "独居老人",
        "N95口罩",
        "disinfectnt",
        "Duow",
        "多闻 口罩",
        "Thermometer",
    ];
    let mut all = Vec::new();
    for q in queries {
        let query = Query {
            q: q.into(),
            per_page: Some(20),
            ..Query::default()
        };
        let mut times: Vec<Duration> = Vec::new();
        let mut results = 0;
        for _ in 0..30 {
            let t = Instant::now();
            let hits = index.search(&query, &|_| true);
            results = hits.len();
            times.push(t.elapsed());
        }
        times.sort();
        all.extend(times.iter().copied());
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {count} | {q} | {results} | {:.1} | {:.1} | {} |",
            ms(times[times.len() / 2]),
            ms(times[times.len() * 95 / 100]),
            times.len()
        );
    }
    all.sort();
    println!(
        "| {count} | all of the above | – | {:.1} | {:.1} | {} |",
        all[all.len() / 2].as_secs_f64() * 1000.0,
        all[all.len() * 95 / 100].as_secs_f64() * 1000.0,
        all.len()
    );
    eprintln!("index built in {:.1} s", built.as_secs_f64());
}
