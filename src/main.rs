//! The `contactbook` command: serves the app, or seeds demo data.

use std::{net::TcpListener, process::ExitCode};

use contactbook::{config::Config, db, db::embedded::EmbeddedPostgres};

const USAGE: &str = "\
Usage: contactbook [COMMAND]

Commands:
  serve       run the web application (the default)
  seed-demo   add demo colleagues to the staff directory
  help        show this message

Settings are environment variables; see .env.example.";

fn main() -> ExitCode {
    contactbook::tune_allocator();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    let result = match command.as_str() {
        "serve" => serve(),
        "seed-demo" => seed_demo(),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("contactbook: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Connects to DATABASE_URL, or starts the embedded server; runs migrations.
fn open_database(config: &Config) -> Result<(db::DbPool, Option<EmbeddedPostgres>), String> {
    let (url, embedded) = match &config.database_url {
        Some(url) => (url.clone(), None),
        None => {
            let pg = EmbeddedPostgres::start(&config.data_dir).map_err(|e| e.to_string())?;
            pg.ensure_database("contactbook")
                .map_err(|e| e.to_string())?;
            (pg.url("contactbook"), Some(pg))
        }
    };
    let pool = db::build_pool(&url, config.db_pool_size, config.db_timeout)?;
    db::run_migrations(&pool)?;
    Ok((pool, embedded))
}

fn serve() -> Result<(), String> {
    let config = Config::from_env()?;
    let (pool, mut embedded) = open_database(&config)?;
    contactbook::bootstrap_admin(&pool, &config)?;
    let listener = TcpListener::bind(config.bind)
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let result = actix_web::rt::System::new().block_on(async move {
        let server = contactbook::run(listener, config, pool)?;
        log::info!("ContactBook is ready at http://{addr}");
        // Returns after Ctrl-C or SIGTERM, once requests in flight have finished.
        server.await.map_err(|e| e.to_string())
    });
    if let Some(pg) = embedded.as_mut() {
        pg.stop();
    }
    result
}

fn seed_demo() -> Result<(), String> {
    let config = Config::from_env()?;
    let (pool, mut embedded) = open_database(&config)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let added = contactbook::seed::seed_demo_staff(&mut conn).map_err(|e| e.to_string())?;
    drop(conn);
    drop(pool);
    println!(
        "Added {added} demo colleagues to the staff directory (they have no password until an administrator sets one)."
    );
    if let Some(pg) = embedded.as_mut() {
        pg.stop();
    }
    Ok(())
}
