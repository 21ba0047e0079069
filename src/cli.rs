//! The `weave` command line: serve, migrate, demo, plan, user add.

use std::path::Path;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    app::{self, AppState},
    auth::{self, password, Role},
    config::Settings,
    db::Db,
    demo,
    matching::engine,
    telemetry,
};

/// Weave — resource network and donation matching for community foundations and hub organisations.
///
/// Every setting can be given as a flag or as the environment variable shown next to it.
#[derive(Parser)]
#[command(name = "weave", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the web service (migrates the database first).
    Serve {
        /// Load the demo hub first if the database has no organisations yet.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit. Safe to run before a new version starts.
    Migrate,
    /// Load a demo hub (communities, partners, suppliers, donors, one account per role) and
    /// print the accounts' credentials.
    Demo,
    /// Run the matching engine on an instance file (MATCHING.md) and write the plan as JSON.
    /// Needs no database.
    Plan {
        /// The instance (JSON).
        #[arg(long)]
        input: std::path::PathBuf,
        /// Where to write the plan (standard output when absent).
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Back the database up to FILE while Weave keeps serving: a consistent SQLite copy
    /// (VACUUM INTO), or `pg_dump --format=custom` for PostgreSQL.
    Backup {
        /// Where to write the backup (must not exist).
        file: std::path::PathBuf,
    },
    /// Restore a backup made by `weave backup` into the configured database (stop Weave first).
    /// SQLite: the database file must not exist unless --force; PostgreSQL: `pg_restore` into
    /// the configured (empty) database.
    Restore {
        file: std::path::PathBuf,
        /// Replace an existing SQLite database file.
        #[arg(long)]
        force: bool,
    },
    /// Search index tasks.
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
}

#[derive(Subcommand)]
pub enum SearchCommand {
    /// Rebuild the Meilisearch index (WEAVE_MEILI_URL) from the database, with a progress bar.
    /// The embedded index needs no rebuild: each process builds it from the database.
    Reindex,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Add {
        #[arg(long)]
        email: String,
        /// admin, hub_coordinator, community_secretary, donor, supplier or foundation_staff.
        #[arg(long)]
        role: String,
        #[arg(long)]
        password: String,
        /// Display name (defaults to the email).
        #[arg(long)]
        name: Option<String>,
        /// Organisation the account acts for (repeat for a secretary of several communities).
        #[arg(long = "org")]
        orgs: Vec<i64>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    if let Command::Plan { input, output } = &cli.command {
        return plan_file(input, output.as_deref());
    }
    if let Command::Restore { file, force } = &cli.command {
        // Before connecting: a connection would create the database being restored.
        return crate::backup::restore(&settings.database_url(), file, *force);
    }
    telemetry::init(&settings);
    let db = Db::connect(&settings.database_url(), settings.db_max_connections).await?;
    db.migrate().await?;
    match cli.command {
        Command::Migrate => {
            println!(
                "migrations applied to {}",
                crate::config::redact_url(&settings.database_url())
            );
            Ok(())
        }
        Command::Demo => {
            let report = demo::load(&db).await?;
            print!("{report}");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    role,
                    password,
                    name,
                    orgs,
                },
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?}; use one of admin, hub_coordinator, community_secretary, donor, supplier, foundation_staff")
            })?;
            let id = add_user(&db, &email, name.as_deref(), role, &password, &orgs).await?;
            println!("created account {id}: {email} ({})", role.as_str());
            Ok(())
        }
        Command::Search {
            command: SearchCommand::Reindex,
        } => reindex(db, settings).await,
        Command::Backup { file } => {
            crate::backup::backup(&db, &settings.database_url(), &file).await?;
            println!("backed up to {}", file.display());
            Ok(())
        }
        Command::Restore { .. } => unreachable!("restored before connecting"),
        Command::Plan { .. } => unreachable!("planned before connecting"),
        Command::Serve { demo: load_demo } => {
            if load_demo {
                if demo::is_loaded(&db).await? {
                    println!("demo data already present; accounts as printed when it was loaded:");
                    print!("{}", demo::credentials());
                } else {
                    print!("{}", demo::load(&db).await?);
                }
            }
            serve(db, settings).await
        }
    }
}

/// `weave search reindex`: rebuilds the Meilisearch index with a progress bar.
async fn reindex(db: Db, settings: Settings) -> anyhow::Result<()> {
    let Some(url) = settings.meili_url.clone() else {
        anyhow::bail!(
            "WEAVE_MEILI_URL is not set: the embedded index is built from the database by each process and needs no rebuild"
        );
    };
    let secret = settings
        .session_secret
        .clone()
        .unwrap_or_else(|| "reindex-reindex-reindex-reindex-reindex".into());
    let state = AppState::new(db, settings, &secret)?;
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} documents ({eta} left)")
            .expect("a valid template"),
    );
    let total = crate::search::meili::reindex(&state, &url, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish();
    println!(
        "reindexed {total} documents into {}",
        crate::config::redact_url(&url)
    );
    Ok(())
}

/// `weave plan`: reads an instance, runs the engine, writes the plan.
fn plan_file(input: &Path, output: Option<&Path>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("cannot read {}", input.display()))?;
    let instance = engine::Instance::from_json(&text)
        .map_err(|e| anyhow::anyhow!("invalid instance {}: {e}", input.display()))?;
    drop(text);
    let problem = instance
        .check()
        .map_err(|e| anyhow::anyhow!("invalid instance {}: {e}", input.display()))?;
    // The checked problem holds all the engine needs: the text and the instance as read are
    // freed before planning, so they do not add to the peak.
    drop(instance);
    let plan = engine::solve(&problem);
    drop(problem);
    let json = serde_json::to_string_pretty(&plan)? + "\n";
    match output {
        Some(path) => std::fs::write(path, json)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{json}"),
    }
    Ok(())
}

pub async fn add_user(
    db: &Db,
    email: &str,
    name: Option<&str>,
    role: Role,
    password: &str,
    orgs: &[i64],
) -> anyhow::Result<i64> {
    if password.chars().count() < 8 {
        anyhow::bail!("the password must have at least 8 characters");
    }
    if !email.contains('@') {
        anyhow::bail!("{email:?} is not an email address");
    }
    let hash = password::hash(password.to_owned()).await?;
    let mut tx = db.begin().await?;
    let id = auth::store::create_user(
        tx.conn(),
        auth::store::NewUser {
            email,
            display_name: name.unwrap_or(email),
            role,
            password_hash: &hash,
            organisation_ids: orgs,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let after = serde_json::json!({ "email": email, "role": role.as_str(), "organisations": orgs });
    crate::audit::record(
        tx.conn(),
        crate::audit::Actor::System("cli"),
        "create",
        "user",
        id,
        None::<&()>,
        Some(&after),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    tx.commit().await?;
    Ok(id)
}

fn describe(error: &crate::error::AppError) -> String {
    match error {
        crate::error::AppError::Validation(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

async fn serve(db: Db, settings: Settings) -> anyhow::Result<()> {
    let secret = session_secret(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    tracing::info!(address = %listener.local_addr()?, backend = ?db.backend(), "Weave is serving");
    println!("Weave is serving on http://{}", listener.local_addr()?);
    let state = AppState::new(db, settings, &secret)?;
    crate::matching::schedule::spawn(state.clone());
    crate::notify::spawn_worker(state.clone());
    crate::search::meili::spawn_worker(state.clone());
    crate::observe::spawn_books_check(state.clone());
    if let Some(address) = state.settings.metrics_bind {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} for metrics"))?;
        tracing::info!(%address, "metrics are served apart");
        let router = crate::observe::router().with_state(state.clone());
        tokio::spawn(async move { axum::serve(metrics, router).await });
    }
    app::serve(listener, state, app::shutdown_signal()).await?;
    Ok(())
}

/// The configured secret, or one generated on first start and kept in the data folder so
/// sessions survive restarts.
fn session_secret(settings: &Settings) -> anyhow::Result<String> {
    if let Some(secret) = &settings.session_secret {
        if secret.len() < 32 {
            anyhow::bail!("WEAVE_SESSION_SECRET must have at least 32 characters");
        }
        return Ok(secret.clone());
    }
    let path = settings.data_dir.join("session.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if existing.trim().len() >= 32 {
            return Ok(existing.trim().to_owned());
        }
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let secret = auth::store::random_secret();
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a session key");
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
