//! Following a stack's logs: every chosen container's output, with containers that start
//! again followed again, until every followed container has stopped. The end of the streams
//! because the engine went away is an error, never a quiet end.

use std::collections::BTreeSet;

use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use stackr_engine::{Engine, EventKind, LogChunk, LogOptions};

/// A chunk of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub container: String,
    pub service: String,
    pub chunk: LogChunk,
}

enum Item {
    Chunk(LogLine),
    End(String),
}

fn tagged(
    id: String,
    container: String,
    service: String,
    stream: BoxStream<'static, stackr_engine::Result<LogChunk>>,
) -> BoxStream<'static, Item> {
    stream
        .filter_map(move |r| {
            let (container, service) = (container.clone(), service.clone());
            async move {
                r.ok().map(|chunk| {
                    Item::Chunk(LogLine {
                        container,
                        service,
                        chunk,
                    })
                })
            }
        })
        .chain(futures::stream::once(async move { Item::End(id) }))
        .boxed()
}

/// Follows the logs of the chosen services (all when empty), from the last `tail` lines.
pub async fn follow<E: Engine>(
    engine: &E,
    stack: &str,
    services: &[String],
    tail: Option<u64>,
    timestamps: bool,
    sink: &(dyn Fn(LogLine) + Send + Sync),
) -> stackr_engine::Result<()> {
    let opts = LogOptions {
        tail,
        timestamps,
        ..LogOptions::default()
    };
    follow_with(engine, stack, services, &opts, sink).await
}

/// [`follow`] with every option of the log request (`since`, `until`...); `follow` itself is
/// always on.
pub async fn follow_with<E: Engine>(
    engine: &E,
    stack: &str,
    services: &[String],
    base: &LogOptions,
    sink: &(dyn Fn(LogLine) + Send + Sync),
) -> stackr_engine::Result<()> {
    let mut events = engine.events(stack).await?;
    let chosen =
        |s: Option<&str>| services.is_empty() || s.is_some_and(|s| services.iter().any(|x| x == s));
    let containers = engine.list_containers(stack).await?;
    let mut all: SelectAll<BoxStream<'static, Item>> = SelectAll::new();
    let mut active: BTreeSet<String> = BTreeSet::new();
    // Containers that started again while their old stream was still open.
    let mut restarted: std::collections::BTreeMap<String, (String, String)> =
        std::collections::BTreeMap::new();
    let opts = LogOptions {
        follow: true,
        ..base.clone()
    };
    // Stopped containers too: their output is shown, and their stream ends at once.
    for c in containers.iter().filter(|c| chosen(c.service())) {
        let stream = engine.logs(&c.id, &opts).await?;
        active.insert(c.id.clone());
        all.push(tagged(
            c.id.clone(),
            c.name.clone(),
            c.service().unwrap_or_default().to_string(),
            stream,
        ));
    }
    if active.is_empty() {
        return Ok(());
    }
    loop {
        tokio::select! {
            item = all.next(), if !all.is_empty() => {
                match item {
                    Some(Item::Chunk(line)) => sink(line),
                    Some(Item::End(id)) => {
                        active.remove(&id);
                        // It started again before its old stream ended: followed again.
                        if let Some((name, service)) = restarted.remove(&id)
                            && let Some(stream) = again(engine, &id, name, service, &opts).await
                        {
                            active.insert(id);
                            all.push(stream);
                            continue;
                        }
                        if active.is_empty() {
                            // Every container ended, or the engine went away with them.
                            engine.info().await?;
                            return Ok(());
                        }
                    }
                    None => {
                        engine.info().await?;
                        return Ok(());
                    }
                }
            }
            ev = events.next() => {
                let ev = match ev {
                    Some(Ok(ev)) => ev,
                    // The stream broke: an engine that went away is an error; one that is
                    // still there is followed again.
                    Some(Err(_)) | None => {
                        engine.info().await?;
                        events = engine.events(stack).await?;
                        continue;
                    }
                };
                if ev.kind != EventKind::Start || !chosen(ev.service.as_deref()) {
                    continue;
                }
                let (id, name, service) = (ev.container_id, ev.container_name, ev.service.unwrap_or_default());
                if active.contains(&id) {
                    restarted.insert(id, (name, service));
                } else if let Some(stream) = again(engine, &id, name, service, &opts).await {
                    active.insert(id);
                    all.push(stream);
                }
            }
        }
    }
}

/// A container's logs from now on (it started again), tagged; `None` when they cannot be
/// read (it went meanwhile).
async fn again<E: Engine>(
    engine: &E,
    id: &str,
    name: String,
    service: String,
    opts: &LogOptions,
) -> Option<BoxStream<'static, Item>> {
    let from_now = LogOptions {
        tail: Some(0),
        ..opts.clone()
    };
    let stream = engine.logs(id, &from_now).await.ok()?;
    Some(tagged(id.to_string(), name, service, stream))
}

/// Follows the stack's container events (of the chosen services, all when empty) until the
/// engine goes away, which is an error, never a quiet end: a stream that ends while the engine
/// is still there is opened again.
pub async fn follow_events<E: Engine>(
    engine: &E,
    stack: &str,
    services: &[String],
    sink: &(dyn Fn(stackr_engine::Event) + Send + Sync),
) -> stackr_engine::Result<()> {
    loop {
        let mut stream = engine.events(stack).await?;
        while let Some(ev) = stream.next().await {
            // A broken stream with the engine still there is opened again.
            let Ok(ev) = ev else { break };
            let chosen =
                services.is_empty() || ev.service.as_ref().is_some_and(|s| services.contains(s));
            if chosen {
                sink(ev);
            }
        }
        engine.info().await?;
        tokio::time::sleep(REOPEN_PAUSE).await;
    }
}

/// How long before a stream that ended with the engine still there is opened again.
const REOPEN_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Values shorter than this are not masked: they would hide ordinary words.
pub const MIN_MASKED: usize = 4;

/// Secret values to hide in what containers write.
#[derive(Debug, Clone, Default)]
pub struct Mask {
    /// Longest first, so that a value holding another is hidden whole.
    values: Vec<String>,
}

impl Mask {
    /// A mask of these secret values; also the names of those too short to mask.
    pub fn new(
        values: &std::collections::BTreeMap<String, stackr_reconcile::desired::SecretValue>,
    ) -> (Mask, Vec<String>) {
        let mut short = Vec::new();
        let mut masked = Vec::new();
        for (name, v) in values {
            let text = String::from_utf8_lossy(&v.0).trim().to_string();
            if text.chars().count() < MIN_MASKED {
                short.push(name.clone());
            } else {
                masked.push(text);
            }
        }
        masked.sort_by_key(|s| std::cmp::Reverse(s.len()));
        (Mask { values: masked }, short)
    }

    /// The text with every secret value replaced by `********`.
    pub fn apply<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(secret.as_str(), "********"));
            }
        }
        out
    }
}

/// The output of the chosen services' containers (all when empty) so far, container by
/// container in name order, each up to its last `tail` lines.
pub async fn logs<E: Engine>(
    engine: &E,
    stack: &str,
    services: &[String],
    opts: &LogOptions,
    sink: &(dyn Fn(LogLine) + Send + Sync),
) -> stackr_engine::Result<()> {
    let mut chosen = engine.list_containers(stack).await?;
    chosen.retain(|c| {
        services.is_empty() || c.service().is_some_and(|s| services.iter().any(|x| x == s))
    });
    chosen.sort_by(|a, b| a.name.cmp(&b.name));
    let once = LogOptions {
        follow: false,
        ..opts.clone()
    };
    for c in chosen {
        let mut stream = engine.logs(&c.id, &once).await?;
        while let Some(chunk) = stream.next().await {
            sink(LogLine {
                container: c.name.clone(),
                service: c.service().unwrap_or_default().to_string(),
                chunk: chunk?,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use stackr_reconcile::desired::SecretValue;

    use super::Mask;

    #[test]
    fn a_mask_hides_values_longest_first_and_names_the_short_ones() {
        let values = BTreeMap::from([
            ("a".to_string(), SecretValue(b"hunter2\n".to_vec())),
            ("b".to_string(), SecretValue(b"hunter2-long".to_vec())),
            ("c".to_string(), SecretValue(b"abc".to_vec())),
        ]);
        let (mask, short) = Mask::new(&values);
        assert_eq!(short, ["c"]);
        assert_eq!(
            mask.apply("pw=hunter2-long and hunter2, abc"),
            "pw=******** and ********, abc"
        );
    }
}
