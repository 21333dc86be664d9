//! The resume service opens a resume's contact details to a company for the application events it
//! reads from the job service's stream, so only the job service may write that stream. The
//! resume service's own Redis user (made by `dev/servers.sh`) reads and acknowledges it in its
//! consumer group, but cannot add to it.
//!
//! Needs the local Redis with its ACL users (`dev/servers.sh up redis`); against a Redis that
//! still lets anyone in, these tests fail, which is the finding they guard.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use talentmesh_testkit::{redis_url, service_redis_url, TestEnv};

async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// `service`'s own Redis user; panics (failing the test) when the servers have none.
async fn as_service(service: &str) -> redis::aio::MultiplexedConnection {
    let url = service_redis_url(service).unwrap_or_else(|| {
        panic!(
            "no Redis user for {service}: the local Redis runs without ACL users \
             (run dev/servers.sh up redis)"
        )
    });
    connect(&url).await
}

async fn xadd(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
) -> redis::RedisResult<String> {
    redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg("envelope")
        .arg("forged application event")
        .query_async(conn)
        .await
}

fn assert_no_permission(result: redis::RedisResult<String>, what: &str) {
    match result {
        Ok(id) => panic!("{what}: the resume service's user added entry {id}"),
        Err(e) => assert_eq!(e.code(), Some("NOPERM"), "{what}: {e}"),
    }
}

#[tokio::test]
async fn the_resume_service_cannot_add_to_the_job_services_stream() {
    let job = TestEnv::new("job");
    let mut resume = as_service("resume").await;

    // The job service's stream in production and the one of this test's job service.
    assert_no_permission(xadd(&mut resume, "job:events").await, "job:events");
    let test_stream = format!("{}events", job.redis_prefix);
    assert_no_permission(xadd(&mut resume, &test_stream).await, &test_stream);

    // Nothing reached either stream (read as the admin).
    let mut admin = connect(&redis_url()).await;
    let len: i64 = redis::cmd("XLEN")
        .arg(&test_stream)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(len, 0);
}

#[tokio::test]
async fn the_resume_service_reads_and_acknowledges_the_job_services_stream() {
    let job = TestEnv::new("job");
    let resume_env = TestEnv::new("resume");
    let stream = format!("{}events", job.redis_prefix);
    let mut job_user = as_service("job").await;
    let mut resume = as_service("resume").await;

    // Its consumer group, as the sync runtime makes it.
    let () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("resume-applications")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut resume)
        .await
        .unwrap();
    let id = xadd(&mut job_user, &stream)
        .await
        .expect("the job service writes its stream");

    let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("resume-applications")
        .arg("resume-1")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut resume)
        .await
        .unwrap();
    let read: Vec<String> = reply
        .keys
        .iter()
        .flat_map(|k| k.ids.iter().map(|e| e.id.clone()))
        .collect();
    assert_eq!(read, vec![id.clone()]);
    let acked: i64 = redis::cmd("XACK")
        .arg(&stream)
        .arg("resume-applications")
        .arg(&id)
        .query_async(&mut resume)
        .await
        .unwrap();
    assert_eq!(acked, 1);

    // Removing or trimming the job service's events is refused too.
    let deleted: redis::RedisResult<i64> = redis::cmd("XDEL")
        .arg(&stream)
        .arg(&id)
        .query_async(&mut resume)
        .await;
    assert_eq!(deleted.unwrap_err().code(), Some("NOPERM"));

    // Its own stream it writes.
    let own = format!("{}events", resume_env.redis_prefix);
    xadd(&mut resume, &own)
        .await
        .expect("the resume service writes its own stream");
}
