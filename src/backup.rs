//! `weave backup` and `weave restore`. SQLite: `VACUUM INTO` writes a consistent copy of the
//! database while others keep writing; restoring copies it into place. PostgreSQL: its own
//! tools, `pg_dump --format=custom` and `pg_restore`, which must be on the PATH.

use std::{path::Path, process::Command};

use anyhow::{bail, Context};

use crate::db::{Backend, Db};

fn sqlite_path(url: &str) -> &str {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or(path)
}

/// Writes a backup of the database to `file`, which must not exist.
pub async fn backup(db: &Db, url: &str, file: &Path) -> anyhow::Result<()> {
    if file.exists() {
        bail!("{} exists; choose a new file", file.display());
    }
    match db.backend() {
        Backend::Sqlite => {
            let target = file.to_str().context("the backup path must be UTF-8")?;
            sqlx::query(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
                .execute(db.pool())
                .await
                .context("SQLite backup failed")?;
            Ok(())
        }
        Backend::Postgres => {
            let status = Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(file)
                .arg(url)
                .status()
                .context("cannot run pg_dump (install the PostgreSQL client tools)")?;
            if !status.success() {
                bail!("pg_dump failed ({status})");
            }
            Ok(())
        }
    }
}

/// Restores a backup into the configured database.
pub fn restore(url: &str, file: &Path, force: bool) -> anyhow::Result<()> {
    if !file.exists() {
        bail!("{} does not exist", file.display());
    }
    match Backend::from_url(url)? {
        Backend::Sqlite => {
            let target = Path::new(sqlite_path(url));
            if target.exists() && !force {
                bail!(
                    "{} exists; stop Weave and pass --force to replace it",
                    target.display()
                );
            }
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", target.display()));
            }
            std::fs::copy(file, target)
                .with_context(|| format!("cannot write {}", target.display()))?;
            println!("restored {} into {}", file.display(), target.display());
            Ok(())
        }
        Backend::Postgres => {
            let status = Command::new("pg_restore")
                .args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(url)
                .arg(file)
                .status()
                .context("cannot run pg_restore (install the PostgreSQL client tools)")?;
            if !status.success() {
                bail!("pg_restore failed ({status})");
            }
            println!("restored {}", file.display());
            Ok(())
        }
    }
}
