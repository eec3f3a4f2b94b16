//! Acknowledged writes survive `kill -9`: a child process (this test binary, run again) inserts
//! messages and prints the id of each insert the store acknowledged; the parent kills it with
//! SIGKILL in the middle of the burst, reopens the file and finds every acknowledged message.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use qstash_store::Store;
use qstash_store::conformance::{T0, message};
use qstash_store::sqlite::SqliteStore;

const CHILD_ENV: &str = "QSTASH_STORE_KILL_CHILD_DB";

/// The child's part: runs only when the parent starts this binary with the database path.
#[test]
fn child_inserts_until_killed() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let store = Arc::new(SqliteStore::open(&path).expect("open"));
        let mut tasks = Vec::new();
        for t in 0..16 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let id = format!("msg_{t}_{i}");
                    store
                        .insert_messages(vec![message("t1", &id, T0 + 60_000)], T0)
                        .await
                        .expect("insert");
                    // Printed only after the store acknowledged it.
                    println!("ack {id}");
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_inserts_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("stdout");
    let count = Arc::new(AtomicUsize::new(0));
    let reader = {
        let count = Arc::clone(&count);
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("ack ") {
                    acked.push(id.to_string());
                    count.store(acked.len(), Ordering::SeqCst);
                }
            }
            acked
        })
    };
    // Kill it mid-burst, once a good number of inserts were acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::SeqCst) < 1_000 {
        assert!(
            Instant::now() < deadline,
            "the child acknowledged too little"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    let acked = reader.join().expect("reader");
    assert!(acked.len() >= 1_000);

    let store = SqliteStore::open(&path).expect("reopen after kill -9");
    for id in &acked {
        assert!(
            store.get_message("t1", id).await.expect("get").is_some(),
            "acknowledged {id} lost"
        );
    }
    store.close().await;
}
