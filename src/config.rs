//! Settings: parsed once at start-up from command-line flags and `WEAVE_*` variables.
//! Loading has no side effects; `serve` decides what to create.

use std::{fmt, net::SocketAddr, path::PathBuf};

use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Every setting Weave reads. Each flag can also be given as the environment variable shown.
#[derive(Clone, Args)]
pub struct Settings {
    /// Database URL: `sqlite://PATH` or `postgres://USER:PASS@HOST/DB`.
    /// Default: SQLite at `<data dir>/weave.db`, created on first start.
    #[arg(long, env = "WEAVE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Address and port the web server listens on.
    #[arg(
        long,
        env = "WEAVE_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// Folder for the SQLite database, the generated session key and other local files.
    #[arg(long, env = "WEAVE_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Secret that signs session and CSRF cookies (at least 32 characters).
    /// Default: a random key generated once and kept in `<data dir>/session.key`.
    #[arg(
        long,
        env = "WEAVE_SESSION_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub session_secret: Option<String>,

    /// How long a browser session lasts, in hours.
    #[arg(
        long,
        env = "WEAVE_SESSION_TTL_HOURS",
        default_value_t = 12,
        global = true
    )]
    pub session_ttl_hours: i64,

    /// Mark cookies `Secure` (set this when Weave is served over HTTPS).
    #[arg(
        long,
        env = "WEAVE_SECURE_COOKIES",
        default_value_t = false,
        global = true
    )]
    pub secure_cookies: bool,

    /// Log format: `pretty` for people, `json` for log collectors.
    #[arg(
        long,
        env = "WEAVE_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub log_format: LogFormat,

    /// Log filter in `tracing` syntax, e.g. `info` or `weave=debug,sqlx=warn`.
    #[arg(
        long,
        env = "WEAVE_LOG",
        default_value = "info,sqlx=warn",
        global = true
    )]
    pub log: String,

    /// Largest request body accepted, in bytes; bigger bodies get 413.
    #[arg(long, env = "WEAVE_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Failed or successful login attempts allowed per account per minute.
    #[arg(
        long,
        env = "WEAVE_LOGIN_ATTEMPTS_PER_MINUTE",
        default_value_t = 5,
        global = true
    )]
    pub login_attempts_per_minute: u32,

    /// Largest database connection pool.
    #[arg(
        long,
        env = "WEAVE_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub db_max_connections: u32,

    /// The hub's time zone: its days, cut-off times and needed-by dates are in it.
    #[arg(long, env = "WEAVE_TIMEZONE", default_value = "Asia/Shanghai", value_parser = parse_timezone, global = true)]
    pub timezone: chrono_tz::Tz,

    /// Daily cut-off (HH:MM, hub time): the scheduled matching run prepares a plan for review.
    #[arg(long, env = "WEAVE_MATCHING_CUTOFF", default_value = "16:00", value_parser = parse_time, global = true)]
    pub matching_cutoff: chrono::NaiveTime,

    /// Run matching every day at the cut-off (with several replicas, one runs it).
    #[arg(long, env = "WEAVE_DAILY_MATCHING", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub daily_matching: bool,

    /// When the hub assigns supply to the day's needs (HH:MM-HH:MM, hub time), after the cut-off.
    #[arg(long, env = "WEAVE_ASSIGNMENT_WINDOW", default_value = "16:00-17:30", value_parser = parse_window, global = true)]
    pub assignment_window: TimeWindow,

    /// When purchases are made and runs picked the next morning (HH:MM-HH:MM, hub time).
    #[arg(long, env = "WEAVE_PROCUREMENT_WINDOW", default_value = "08:30-12:00", value_parser = parse_window, global = true)]
    pub procurement_window: TimeWindow,

    /// When delivery runs go out to the communities (HH:MM-HH:MM, hub time).
    #[arg(long, env = "WEAVE_DELIVERY_WINDOW", default_value = "13:00-16:00", value_parser = parse_window, global = true)]
    pub delivery_window: TimeWindow,

    /// SMTP server for email. Without it, messages are written as .eml files under
    /// `<data dir>/outbox` so nothing is lost.
    #[arg(long, env = "WEAVE_SMTP_HOST", global = true)]
    pub smtp_host: Option<String>,

    #[arg(long, env = "WEAVE_SMTP_PORT", default_value_t = 587, global = true)]
    pub smtp_port: u16,

    /// `starttls` (upgrade a plain connection), `tls` (TLS from the start) or `none`.
    #[arg(
        long,
        env = "WEAVE_SMTP_TLS",
        default_value = "starttls",
        value_enum,
        global = true
    )]
    pub smtp_tls: SmtpTls,

    #[arg(long, env = "WEAVE_SMTP_USERNAME", global = true)]
    pub smtp_username: Option<String>,

    #[arg(
        long,
        env = "WEAVE_SMTP_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub smtp_password: Option<String>,

    /// The sender of Weave's email.
    #[arg(
        long,
        env = "WEAVE_MAIL_FROM",
        default_value = "Weave <noreply@weave.local>",
        global = true
    )]
    pub mail_from: String,

    /// Meilisearch for search (e.g. http://127.0.0.1:7700); unset uses the embedded index.
    #[arg(long, env = "WEAVE_MEILI_URL", global = true)]
    pub meili_url: Option<String>,

    /// The name of Weave's Meilisearch index.
    #[arg(
        long,
        env = "WEAVE_MEILI_INDEX",
        default_value = "weave",
        global = true
    )]
    pub meili_index: String,

    /// The Meilisearch API key.
    #[arg(long, env = "WEAVE_MEILI_KEY", hide_env_values = true, global = true)]
    pub meili_key: Option<String>,

    /// Serve `/metrics` on this address only (e.g. 127.0.0.1:9090) instead of the main one.
    #[arg(long, env = "WEAVE_METRICS_BIND", global = true)]
    pub metrics_bind: Option<std::net::SocketAddr>,

    /// The address people reach this Weave at, for links in email and share links.
    #[arg(
        long,
        env = "WEAVE_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub public_url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// A daily window of the hub's cycle, such as 16:00-17:30.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: chrono::NaiveTime,
    pub end: chrono::NaiveTime,
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}–{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

fn parse_window(text: &str) -> Result<TimeWindow, String> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not a window such as 16:00-17:30"))?;
    let (start, end) = (parse_time(start.trim())?, parse_time(end.trim())?);
    if end <= start {
        return Err(format!("{text:?} ends before it starts"));
    }
    Ok(TimeWindow { start, end })
}

fn parse_timezone(text: &str) -> Result<chrono_tz::Tz, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a time zone such as Asia/Shanghai"))
}

fn parse_time(text: &str) -> Result<chrono::NaiveTime, String> {
    chrono::NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("{text:?} is not a time such as 16:00"))
}

impl Settings {
    /// Today's date in the hub's time zone.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.timezone)
            .date_naive()
    }

    /// The daily cycle of seed 000, as the dispatch pages show it.
    pub fn cycle(&self) -> [(&'static str, String); 4] {
        [
            (
                "cycle_cutoff",
                self.matching_cutoff.format("%H:%M").to_string(),
            ),
            ("cycle_assignment", self.assignment_window.to_string()),
            ("cycle_procurement", self.procurement_window.to_string()),
            ("cycle_delivery", self.delivery_window.to_string()),
        ]
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("weave.db").display()),
        }
    }

    /// Settings for tests and tools: defaults with the given database and data folder.
    pub fn for_database(database_url: &str, data_dir: PathBuf) -> Self {
        Settings {
            database_url: Some(database_url.to_owned()),
            bind: "127.0.0.1:0".parse().expect("valid address"),
            data_dir,
            session_secret: Some("test-secret-test-secret-test-secret-0123456789".into()),
            session_ttl_hours: 12,
            secure_cookies: false,
            log_format: LogFormat::Pretty,
            log: "warn".into(),
            max_body_bytes: 1024 * 1024,
            login_attempts_per_minute: 5,
            db_max_connections: 10,
            timezone: chrono_tz::Asia::Shanghai,
            matching_cutoff: chrono::NaiveTime::from_hms_opt(16, 0, 0).expect("a time"),
            daily_matching: false,
            assignment_window: parse_window("16:00-17:30").expect("a window"),
            procurement_window: parse_window("08:30-12:00").expect("a window"),
            delivery_window: parse_window("13:00-16:00").expect("a window"),
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            mail_from: "Weave <noreply@weave.local>".into(),
            public_url: "http://127.0.0.1:8080".into(),
            metrics_bind: None,
            meili_url: None,
            meili_index: "weave".into(),
            meili_key: None,
        }
    }
}

/// Never print secrets: passwords in URLs and the session secret are redacted.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url()))
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("session_ttl_hours", &self.session_ttl_hours)
            .field("secure_cookies", &self.secure_cookies)
            .field("log_format", &self.log_format)
            .field("log", &self.log)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("login_attempts_per_minute", &self.login_attempts_per_minute)
            .field("db_max_connections", &self.db_max_connections)
            .field("timezone", &self.timezone)
            .field("matching_cutoff", &self.matching_cutoff)
            .field("daily_matching", &self.daily_matching)
            .field("assignment_window", &self.assignment_window)
            .field("procurement_window", &self.procurement_window)
            .field("delivery_window", &self.delivery_window)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<redacted>"),
            )
            .field("mail_from", &self.mail_from)
            .field("public_url", &self.public_url)
            .field("metrics_bind", &self.metrics_bind)
            .field("meili_url", &self.meili_url)
            .field("meili_index", &self.meili_index)
            .field("meili_key", &self.meili_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:<redacted>{}", &url[..scheme_end], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let mut s = Settings::for_database("postgres://weave:hunter2@localhost/weave", "d".into());
        s.session_secret = Some("super-secret-value".into());
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("super-secret-value"), "{printed}");
        assert!(printed.contains("postgres://weave:<redacted>@localhost/weave"));
    }
}
