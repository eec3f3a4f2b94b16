//! `qstash_workflow::testing`: workflows replayed and played to the end in memory.

use std::collections::HashMap;
use std::time::Duration;

use qstash_workflow::testing::{self, Events, Next};
use qstash_workflow::{Context, Error, ErrorKind, Step};
use serde_json::{Value, json};

async fn order(ctx: Context<u64>) -> Result<Value, Error> {
    let n = ctx.payload;
    let doubled = ctx
        .run("double", || async { Ok::<_, Error>(n * 2) })
        .await?;
    ctx.sleep("pause", Duration::from_secs(5)).await?;
    let (a, b) = tokio::try_join!(
        ctx.run("left", || async { Ok::<_, Error>(doubled + 1) }),
        ctx.run("right", || async { Ok::<_, Error>(doubled + 2) }),
    )?;
    let paid = ctx
        .wait_for_event("paid", format!("order-{n}"), Duration::from_secs(60))
        .await?;
    Ok(json!({"sum": a + b, "paid": paid.event_data, "timeout": paid.timeout}))
}

fn run_step(id: u64, name: &str, out: &Value) -> Step {
    Step {
        step_id: id,
        step_name: name.into(),
        step_type: "Run".into(),
        out: Some(Value::String(out.to_string())),
        concurrent: 1,
        ..Step::default()
    }
}

#[tokio::test]
async fn the_first_delivery_runs_the_first_step_only() {
    let next = testing::replay(order, 3, vec![]).await.unwrap();
    let steps = next.steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (
            steps[0].step_id,
            steps[0].step_name.as_str(),
            steps[0].out.clone()
        ),
        (1, "double", Some(json!("6")))
    );
}

#[tokio::test]
async fn memoised_steps_are_not_run_again_and_a_sleep_is_handed_over() {
    let next = testing::replay(order, 3, vec![run_step(1, "double", &json!(6))])
        .await
        .unwrap();
    let Next::Send(outgoing) = &next else {
        panic!("{next:?}")
    };
    let steps = next.steps();
    assert_eq!(steps[0].step_type, "SleepFor");
    assert_eq!(steps[0].sleep_for, Some(json!(5)));
    let qstash_workflow::Outgoing::Batch(messages) = &outgoing[0] else {
        panic!("{outgoing:?}")
    };
    assert_eq!(messages[0].headers["upstash-delay"], "5s");
    assert_eq!(messages[0].headers["upstash-workflow-sdk-version"], "1");
}

#[tokio::test]
async fn a_join_of_runs_is_one_parallel_group_planned_in_one_batch() {
    let sleep = Step {
        step_id: 2,
        step_name: "pause".into(),
        step_type: "SleepFor".into(),
        sleep_for: Some(json!(5)),
        concurrent: 1,
        ..Step::default()
    };
    let next = testing::replay(order, 3, vec![run_step(1, "double", &json!(6)), sleep])
        .await
        .unwrap();
    let plan: Vec<(u64, Option<u64>, u64, String)> = next
        .steps()
        .into_iter()
        .map(|s| (s.step_id, s.target_step, s.concurrent, s.step_name))
        .collect();
    assert_eq!(
        plan,
        vec![
            (0, Some(3), 2, "left".to_owned()),
            (0, Some(4), 2, "right".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_whole_run_with_an_event_and_one_with_a_timeout() {
    let events = Events(HashMap::from([(
        "order-3".to_owned(),
        json!({"by": "card"}),
    )]));
    let end = testing::run_to_end(order, 3, &events).await.unwrap();
    assert_eq!(
        end.result,
        json!({"sum": 15, "paid": {"by": "card"}, "timeout": false})
    );
    let names: Vec<&str> = end.steps.iter().map(|s| s.step_name.as_str()).collect();
    // Two plan steps and two results for the parallel group, each result once.
    assert_eq!(
        names,
        vec!["double", "pause", "left", "right", "left", "right", "paid"]
    );
    let timed_out = testing::run_to_end(order, 4, &Events::default())
        .await
        .unwrap();
    assert_eq!(
        timed_out.result,
        json!({"sum": 19, "paid": null, "timeout": true})
    );
}

#[tokio::test]
async fn a_replay_mismatch_names_both_steps() {
    let err = testing::replay(order, 3, vec![run_step(1, "triple", &json!(9))])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReplayMismatch);
    assert_eq!(
        err.message(),
        "Incompatible step name. Expected 'double', got 'triple' from the request"
    );
    let mut sleep_as_run = run_step(2, "pause", &json!(null));
    sleep_as_run.step_type = "Run".into();
    let err = testing::replay(
        order,
        3,
        vec![run_step(1, "double", &json!(6)), sleep_as_run],
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Incompatible step type. Expected 'SleepFor', got 'Run' from the request"
    );
}

#[tokio::test]
async fn a_failing_step_and_a_nested_step_are_errors_with_the_step_name() {
    let err = testing::replay(
        |ctx: Context<u64>| async move {
            ctx.run("boom", || async { Err::<u64, _>("it broke") })
                .await
        },
        1,
        vec![],
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.kind(), err.step_name(), err.message()),
        (ErrorKind::Step, Some("boom"), "it broke")
    );
    let err = testing::replay(
        |ctx: Context<u64>| async move {
            ctx.run("outer", || async {
                ctx.run("inner", || async { Ok::<_, Error>(1) }).await
            })
            .await
        },
        1,
        vec![],
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Step);
    assert!(err.message().contains("inside 'outer'"), "{err}");
}
