//! The camera as a PipeWire node (`webcam --output pipewire`): a `Video/Source` with
//! `media.role = Camera`, named for the body, that browsers, OBS, GNOME Snapshot and the
//! camera portal list like any webcam, with no kernel module.
//!
//! The PipeWire main loop runs on its own thread ("pipewire"); the pipeline's writer
//! hands it pictures through a one-picture slot that keeps only the newest (a picture
//! replaced before the node sent it is counted as dropped), so the writer never waits
//! on a consumer. Both slot buffers are reused, so steady state allocates nothing.
//!
//! The node offers one fixed size (the live view's; WebRTC drops formats whose size is a
//! range) as raw YUY2 and as MJPG, and publishes which one a consumer took through a
//! [`Demand`]: the pipeline decodes only for a raw consumer, passes JPEG through for an
//! MJPG one and decodes nothing while nobody is connected. A new picture size updates
//! the offered formats, which makes PipeWire renegotiate the link. The node is the
//! graph's driver: each new picture triggers one cycle, so it runs at the camera's rate.
//!
//! Must not: block the writer, panic on what the daemon sends, or print (it logs).
//! Camera controls as node `Props` wait for the camera-control model (issue 16 item 4).

use super::{Demand, FrameSink, Picture, SinkError, SourceInfo, Want};
use pipewire as pw;
use pw::spa;
use spa::pod::{Object, Pod, Property, Value};
use spa::utils::{Choice, ChoiceEnum, ChoiceFlags, Fraction, Id, Rectangle};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

/// Offered before the first picture: the usual Sony live-view size (and the placeholder
/// card's), so the first real picture rarely renegotiates.
const FIRST_SIZE: (u32, u32) = (1024, 680);
/// Buffers the node asks for: enough for a consumer holding one while another fills.
const BUFFERS: i32 = 4;

/// Where a PipeWire client looks for the daemon: `$PIPEWIRE_REMOTE` (a name or path)
/// in `$PIPEWIRE_RUNTIME_DIR` or `$XDG_RUNTIME_DIR`, default `pipewire-0`.
pub fn socket_path() -> Option<PathBuf> {
    let remote = std::env::var_os("PIPEWIRE_REMOTE").unwrap_or_else(|| "pipewire-0".into());
    let remote = PathBuf::from(remote);
    if remote.is_absolute() {
        return Some(remote);
    }
    let dir =
        std::env::var_os("PIPEWIRE_RUNTIME_DIR").or_else(|| std::env::var_os("XDG_RUNTIME_DIR"))?;
    Some(PathBuf::from(dir).join(remote))
}

/// Whether a PipeWire daemon answers on [`socket_path`] (a connect, nothing sent).
pub fn reachable() -> bool {
    socket_path().is_some_and(|p| std::os::unix::net::UnixStream::connect(p).is_ok())
}

/// The node's human name: "Sony ILCE-6400 (alpha-bridge)".
pub fn description(info: &SourceInfo) -> String {
    if info.model.is_empty() {
        "Sony camera (alpha-bridge)".into()
    } else {
        format!("Sony {} (alpha-bridge)", info.model)
    }
}

/// The node's unique name: letters, digits, '-' and '_' only, one per body.
pub fn node_name(info: &SourceInfo) -> String {
    let mut name = String::from("alpha-bridge");
    for part in [&info.model, &info.serial] {
        if !part.is_empty() {
            name.push('.');
            name.extend(part.chars().map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            }));
        }
    }
    name
}

/// Counters the sink keeps (read at the end of a run and by tests).
#[derive(Debug, Default)]
pub struct NodeStats {
    /// Pictures queued to PipeWire.
    pub delivered: AtomicU64,
    /// Pictures replaced by a newer one before the node could send them.
    pub dropped: AtomicU64,
    /// Cycles where the consumer held every buffer.
    pub no_buffer: AtomicU64,
    /// Pictures larger than the negotiated buffers (an MJPG frame over the bound).
    pub too_big: AtomicU64,
    /// Sum and maximum of the time from `write` to the buffer being queued, in µs.
    pub handoff_us_sum: AtomicU64,
    /// Longest time from `write` to the buffer being queued, in µs.
    pub handoff_us_max: AtomicU64,
}

/// The newest picture, waiting for the node.
struct Slot {
    kind: Want,
    width: u32,
    height: u32,
    data: Vec<u8>,
    /// Not yet sent to PipeWire.
    fresh: bool,
    /// When the writer put it here.
    at: Instant,
}

struct Shared {
    slot: Mutex<Slot>,
    /// A wake-up is queued for the loop thread (at most one at a time).
    wake_pending: AtomicBool,
    /// Why the node stopped (daemon gone), for the writer to report.
    failed: Mutex<Option<String>>,
    stats: NodeStats,
}

impl Shared {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        // A panic on the other thread cannot leave the slot half-written in a way that
        // matters (the next picture replaces it), so a poisoned lock is still usable.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn fail(&self, why: String) {
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

enum Msg {
    Source(SourceInfo),
    Frame,
    Quit,
}

/// A PipeWire camera node. Create with [`PipewireSink::open`]; dropping it removes the
/// node.
pub struct PipewireSink {
    shared: Arc<Shared>,
    tx: pw::channel::Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    demand: Demand,
    /// The writer's copy buffer, swapped with the slot's (no allocation once both have
    /// grown to the largest picture).
    spare: Vec<u8>,
    description: String,
}

impl PipewireSink {
    /// Connects to the PipeWire daemon and starts the node's thread; the node appears
    /// when the camera is known ([`FrameSink::set_source`]) or at the first picture.
    /// `fps` is the frame rate the node announces.
    pub fn open(fps: u32) -> Result<PipewireSink, SinkError> {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                kind: Want::Nothing,
                width: 0,
                height: 0,
                data: Vec::new(),
                fresh: false,
                at: Instant::now(),
            }),
            wake_pending: AtomicBool::new(false),
            failed: Mutex::new(None),
            stats: NodeStats::default(),
        });
        let demand = Demand::default();
        let (tx, rx) = pw::channel::channel::<Msg>();
        let (started_tx, started_rx) = mpsc::sync_channel(1);
        let thread = {
            let (shared, demand) = (shared.clone(), demand.clone());
            std::thread::Builder::new()
                .name("pipewire".into())
                .spawn(move || {
                    let fps = fps.clamp(1, 120);
                    if let Err(e) = serve(rx, &shared, &demand, fps, &started_tx) {
                        // Only reached before the loop ran: the caller gets it from open().
                        let _ = started_tx.send(Err(e));
                    }
                    demand.set(Want::Nothing);
                })
                .map_err(|e| SinkError::NoPipewire {
                    detail: format!("cannot start the pipewire thread: {e}"),
                })?
        };
        match started_rx.recv() {
            Ok(Ok(())) => Ok(PipewireSink {
                shared,
                tx,
                thread: Some(thread),
                demand,
                spare: Vec::new(),
                description: description(&SourceInfo::default()),
            }),
            Ok(Err(detail)) => {
                let _ = thread.join();
                Err(SinkError::NoPipewire { detail })
            }
            Err(_) => {
                let _ = thread.join();
                Err(SinkError::NoPipewire {
                    detail: "the pipewire thread stopped while connecting".into(),
                })
            }
        }
    }

    /// What the node's consumers want; hand it to the pipeline
    /// ([`crate::pipeline::Output::Negotiated`]).
    pub fn demand(&self) -> Demand {
        self.demand.clone()
    }

    /// The node's counters.
    pub fn stats(&self) -> &NodeStats {
        &self.shared.stats
    }

    fn wake(&self) -> Result<(), SinkError> {
        if !self.shared.wake_pending.swap(true, Ordering::AcqRel)
            && self.tx.send(Msg::Frame).is_err()
        {
            return Err(self.gone());
        }
        Ok(())
    }

    fn gone(&self) -> SinkError {
        let why = self
            .shared
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "the PipeWire node stopped".into());
        SinkError::NoPipewire { detail: why }
    }
}

impl FrameSink for PipewireSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        pic.validate()?;
        if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
            return Err(self.gone());
        }
        let kind = match pic {
            Picture::Yuyv { .. } => Want::Yuyv,
            Picture::Jpeg { .. } => Want::Jpeg,
        };
        let (w, h) = (pic.width(), pic.height());
        let wanted = self.demand.get() == kind;
        {
            let mut slot = self.shared.slot();
            if !wanted {
                // Nobody takes this kind: only a new size matters (the node offers it).
                if (slot.width, slot.height) == (w, h) {
                    return Ok(());
                }
                slot.width = w;
                slot.height = h;
                slot.kind = kind;
                slot.fresh = false;
            }
        }
        if wanted {
            // Copy outside the lock, then swap buffers under it.
            self.spare.clear();
            self.spare.extend_from_slice(pic.data());
            let mut slot = self.shared.slot();
            std::mem::swap(&mut slot.data, &mut self.spare);
            if slot.fresh {
                self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            slot.kind = kind;
            slot.width = w;
            slot.height = h;
            slot.fresh = true;
            slot.at = Instant::now();
        }
        self.wake()
    }

    fn name(&self) -> String {
        format!("PipeWire node \"{}\"", self.description)
    }

    fn set_source(&mut self, info: &SourceInfo) {
        self.description = description(info);
        // A failed send means the thread is gone; the next write reports it.
        let _ = self.tx.send(Msg::Source(info.clone()));
    }
}

impl Drop for PipewireSink {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let s = &self.shared.stats;
        let sent = s.delivered.load(Ordering::Relaxed);
        log::info!(
            "pipewire: {sent} pictures sent, {} replaced before sending, {} cycles without a \
             free buffer, {} too big; handoff to queued mean {} max {} µs",
            s.dropped.load(Ordering::Relaxed),
            s.no_buffer.load(Ordering::Relaxed),
            s.too_big.load(Ordering::Relaxed),
            s.handoff_us_sum.load(Ordering::Relaxed) / sent.max(1),
            s.handoff_us_max.load(Ordering::Relaxed)
        );
    }
}

/// What a consumer negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Format {
    kind: Want,
    width: u32,
    height: u32,
}

/// Loop-thread state.
struct Node {
    stream: Option<pw::stream::StreamRc>,
    listener: Option<pw::stream::StreamListener<()>>,
    offered: (u32, u32),
    format: Option<Format>,
    streaming: bool,
}

/// The loop thread: connects, reports the outcome through `started`, then serves until
/// [`Msg::Quit`] or the daemon goes away. An `Err` means it never got running.
fn serve(
    rx: pw::channel::Receiver<Msg>,
    shared: &Arc<Shared>,
    demand: &Demand,
    fps: u32,
    started: &mpsc::SyncSender<Result<(), String>>,
) -> Result<(), String> {
    pw::init();
    let mainloop = pw::main_loop::MainLoopRc::new(None)
        .map_err(|e| format!("cannot create a PipeWire main loop: {e}"))?;
    let context = pw::context::ContextRc::new(&mainloop, None)
        .map_err(|e| format!("cannot create a PipeWire context: {e}"))?;
    let core = context.connect_rc(None).map_err(|e| {
        let at = socket_path().map_or("no XDG_RUNTIME_DIR".into(), |p| p.display().to_string());
        format!("no PipeWire daemon is reachable ({at}: {e})")
    })?;
    let _ = started.send(Ok(()));

    let _core_listener = {
        let (ml, shared) = (mainloop.downgrade(), shared.clone());
        core.add_listener_local()
            .error(move |id, _seq, res, message| {
                if id == pw::core::PW_ID_CORE {
                    log::error!("pipewire: the daemon reported an error ({res}): {message}");
                    shared.fail(format!(
                        "the PipeWire daemon went away or failed ({message})"
                    ));
                    if let Some(ml) = ml.upgrade() {
                        ml.quit();
                    }
                }
            })
            .register()
    };

    let node = Rc::new(RefCell::new(Node {
        stream: None,
        listener: None,
        offered: FIRST_SIZE,
        format: None,
        streaming: false,
    }));
    let _attached = {
        let (ml, shared, demand) = (mainloop.downgrade(), shared.clone(), demand.clone());
        let node = node.clone();
        rx.attach(mainloop.loop_(), move |msg| match msg {
            Msg::Quit => {
                if let Some(ml) = ml.upgrade() {
                    ml.quit();
                }
            }
            Msg::Source(info) => {
                if let Err(e) = ensure_stream(&node, &core, &info, &shared, &demand, fps) {
                    fail(&shared, &ml, e);
                }
            }
            Msg::Frame => {
                shared.wake_pending.store(false, Ordering::Release);
                let r = ensure_stream(&node, &core, &SourceInfo::default(), &shared, &demand, fps)
                    .and_then(|()| on_frame(&node, &shared, fps));
                if let Err(e) = r {
                    fail(&shared, &ml, e);
                }
            }
        })
    };
    mainloop.run();
    let mut n = node.borrow_mut();
    if let Some(l) = n.listener.take() {
        l.unregister();
    }
    if let Some(s) = n.stream.take() {
        let _ = s.disconnect();
    }
    Ok(())
}

fn fail(shared: &Shared, ml: &pw::main_loop::MainLoopWeak, why: String) {
    log::error!("pipewire: {why}");
    shared.fail(why);
    if let Some(ml) = ml.upgrade() {
        ml.quit();
    }
}

/// Creates and connects the node once, named for `info`.
fn ensure_stream(
    node: &Rc<RefCell<Node>>,
    core: &pw::core::CoreRc,
    info: &SourceInfo,
    shared: &Arc<Shared>,
    demand: &Demand,
    fps: u32,
) -> Result<(), String> {
    if node.borrow().stream.is_some() {
        return Ok(());
    }
    let desc = description(info);
    let props = pw::properties::properties! {
        *pw::keys::MEDIA_CLASS => "Video/Source",
        *pw::keys::MEDIA_ROLE => "Camera",
        *pw::keys::MEDIA_TYPE => "Video",
        *pw::keys::MEDIA_CATEGORY => "Capture",
        *pw::keys::NODE_NAME => node_name(info),
        *pw::keys::NODE_DESCRIPTION => desc.clone(),
        *pw::keys::NODE_NICK => desc.clone(),
        *pw::keys::DEVICE_VENDOR_NAME => "Sony",
    };
    let stream = pw::stream::StreamRc::new(core.clone(), &node_name(info), props)
        .map_err(|e| format!("cannot create the PipeWire node: {e}"))?;
    let listener = {
        let (node_cb, shared, demand) = (node.clone(), shared.clone(), demand.clone());
        let node_p = node.clone();
        let shared_p = shared.clone();
        let demand_s = demand.clone();
        let node_s = node.clone();
        stream
            .add_local_listener_with_user_data(())
            .state_changed(move |_, _, old, new| {
                log::debug!("pipewire: node state {old:?} -> {new:?}");
                let mut n = node_s.borrow_mut();
                n.streaming = matches!(new, pw::stream::StreamState::Streaming);
                publish(&n, &demand_s);
            })
            .param_changed(move |stream, _, id, param| {
                if id != spa::param::ParamType::Format.as_raw() {
                    return;
                }
                let mut n = node_cb.borrow_mut();
                n.format = param.and_then(parse_format);
                publish(&n, &demand);
                match n.format {
                    Some(f) => {
                        log::info!(
                            "pipewire: a consumer took {} {}x{}",
                            if f.kind == Want::Jpeg { "MJPG" } else { "YUY2" },
                            f.width,
                            f.height
                        );
                        let bytes = buffers_param(f);
                        if let Some(pod) = Pod::from_bytes(&bytes) {
                            if let Err(e) = stream.update_params(&mut [pod]) {
                                log::warn!("pipewire: cannot set the buffer size: {e}");
                            }
                        }
                    }
                    None if param.is_some() => {
                        let what = param.map(|p| {
                            spa::pod::deserialize::PodDeserializer::deserialize_any_from(
                                p.as_bytes(),
                            )
                            .map(|(_, v)| format!("{v:?}"))
                            .unwrap_or_default()
                        });
                        log::warn!(
                            "pipewire: a consumer asked for a format the node does not offer: {}",
                            what.unwrap_or_default()
                        )
                    }
                    None => log::debug!("pipewire: format cleared"),
                }
            })
            .process(move |stream, _| {
                let format = node_p.borrow().format;
                if let Some(f) = format {
                    fill(stream, &shared_p, f);
                }
            })
            .register()
            .map_err(|e| format!("cannot listen to the PipeWire node: {e}"))?
    };
    let (w, h) = node.borrow().offered;
    let formats = enum_formats(w, h, fps);
    let mut pods: Vec<&Pod> = formats.iter().filter_map(|b| Pod::from_bytes(b)).collect();
    stream
        .connect(
            spa::utils::Direction::Output,
            None,
            pw::stream::StreamFlags::DRIVER | pw::stream::StreamFlags::MAP_BUFFERS,
            &mut pods,
        )
        .map_err(|e| format!("cannot connect the PipeWire node: {e}"))?;
    log::info!(
        "pipewire: node \"{desc}\" ({}) offers YUY2 and MJPG {w}x{h}",
        node_name(info)
    );
    let mut n = node.borrow_mut();
    n.stream = Some(stream);
    n.listener = Some(listener);
    Ok(())
}

/// Tells the pipeline what to make: the negotiated kind while streaming, else nothing.
fn publish(n: &Node, demand: &Demand) {
    demand.set(match n.format {
        Some(f) if n.streaming => f.kind,
        _ => Want::Nothing,
    });
}

/// A new picture is in the slot: offer its size if it changed, then run a cycle.
fn on_frame(node: &Rc<RefCell<Node>>, shared: &Shared, fps: u32) -> Result<(), String> {
    let size = {
        let s = shared.slot();
        (s.width, s.height)
    };
    let stream = {
        let mut n = node.borrow_mut();
        if size != n.offered && size.0 > 0 && size.1 > 0 {
            n.offered = size;
            log::info!(
                "pipewire: the picture is now {}x{}; renegotiating",
                size.0,
                size.1
            );
            let formats = enum_formats(size.0, size.1, fps);
            let mut pods: Vec<&Pod> = formats.iter().filter_map(|b| Pod::from_bytes(b)).collect();
            if let Some(s) = &n.stream {
                s.update_params(&mut pods)
                    .map_err(|e| format!("cannot offer the new size: {e}"))?;
            }
        }
        if n.format.is_none() || !n.streaming {
            return Ok(());
        }
        n.stream.clone()
    };
    if let Some(s) = stream {
        // Driving: this picture is the graph's next cycle. Following another driver:
        // its next cycle calls process() and takes the picture then.
        if s.is_driving() {
            if let Err(e) = s.trigger_process() {
                log::debug!("pipewire: trigger failed: {e}");
            }
        }
    }
    Ok(())
}

/// process(): copies the newest picture into a free buffer, when it fits the format.
fn fill(stream: &pw::stream::Stream, shared: &Shared, f: Format) {
    let mut slot = shared.slot();
    if !slot.fresh {
        return;
    }
    if (slot.kind, slot.width, slot.height) != (f.kind, f.width, f.height) {
        // Made for the previous format or size; the pipeline follows within a frame.
        slot.fresh = false;
        shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Some(mut buffer) = stream.dequeue_buffer() else {
        shared.stats.no_buffer.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(d) = buffer.datas_mut().first_mut() else {
        return;
    };
    let n = slot.data.len();
    let copied = match d.data() {
        Some(dst) if dst.len() >= n => {
            dst[..n].copy_from_slice(&slot.data);
            true
        }
        _ => false,
    };
    let chunk = d.chunk_mut();
    *chunk.offset_mut() = 0;
    if copied {
        *chunk.size_mut() = n as u32;
        *chunk.stride_mut() = if f.kind == Want::Yuyv {
            (f.width * 2) as i32
        } else {
            0
        };
        let st = &shared.stats;
        st.delivered.fetch_add(1, Ordering::Relaxed);
        let us = slot.at.elapsed().as_micros().min(u64::MAX as u128) as u64;
        st.handoff_us_sum.fetch_add(us, Ordering::Relaxed);
        st.handoff_us_max.fetch_max(us, Ordering::Relaxed);
    } else {
        *chunk.size_mut() = 0;
        shared.stats.too_big.fetch_add(1, Ordering::Relaxed);
    }
    slot.fresh = false;
    // Dropping the buffer queues it.
}

/// The consumer's choice, if it is one the node offers. Values may come as a fixed
/// value or wrapped in a choice of kind "none" (what a negotiated format looks like).
fn parse_format(pod: &Pod) -> Option<Format> {
    use spa::param::format::{MediaSubtype, MediaType};
    use spa::pod::ChoiceValue;
    let (_, Value::Object(obj)) =
        spa::pod::deserialize::PodDeserializer::deserialize_any_from(pod.as_bytes()).ok()?
    else {
        return None;
    };
    let prop = |key: FormatKey| {
        obj.properties
            .iter()
            .find(|p| p.key == key.as_raw())
            .map(|p| &p.value)
    };
    let id = |key: FormatKey| match prop(key)? {
        Value::Id(id) | Value::Choice(ChoiceValue::Id(Choice(_, ChoiceEnum::None(id)))) => {
            Some(id.0)
        }
        _ => None,
    };
    let size = match prop(FormatKey::VideoSize)? {
        Value::Rectangle(r)
        | Value::Choice(ChoiceValue::Rectangle(Choice(_, ChoiceEnum::None(r)))) => *r,
        _ => return None,
    };
    if id(FormatKey::MediaType)? != MediaType::Video.as_raw() {
        return None;
    }
    let subtype = id(FormatKey::MediaSubtype)?;
    let kind = if subtype == MediaSubtype::Mjpg.as_raw() {
        Want::Jpeg
    } else if subtype == MediaSubtype::Raw.as_raw()
        && id(FormatKey::VideoFormat)? == spa::param::video::VideoFormat::YUY2.as_raw()
    {
        Want::Yuyv
    } else {
        return None;
    };
    Some(Format {
        kind,
        width: size.width,
        height: size.height,
    })
}

fn serialize(obj: Object) -> Vec<u8> {
    // Serialising a well-formed object into memory cannot fail.
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &Value::Object(obj),
    )
    .map(|(c, _)| c.into_inner())
    .unwrap_or_default()
}

fn id_prop(key: FormatKey, id: u32) -> Property {
    Property::new(key.as_raw(), Value::Id(Id(id)))
}

type FormatKey = spa::param::format::FormatProperties;

/// The two EnumFormat params: YUY2 and MJPG, both exactly `w`x`h` at `fps`.
fn enum_formats(w: u32, h: u32, fps: u32) -> [Vec<u8>; 2] {
    use spa::param::format::{MediaSubtype, MediaType};
    let common = |subtype: MediaSubtype, extra: Option<Property>| {
        let mut properties = vec![
            id_prop(FormatKey::MediaType, MediaType::Video.as_raw()),
            id_prop(FormatKey::MediaSubtype, subtype.as_raw()),
        ];
        properties.extend(extra);
        properties.push(Property::new(
            FormatKey::VideoSize.as_raw(),
            Value::Rectangle(Rectangle {
                width: w,
                height: h,
            }),
        ));
        properties.push(Property::new(
            FormatKey::VideoFramerate.as_raw(),
            Value::Fraction(Fraction { num: fps, denom: 1 }),
        ));
        serialize(Object {
            type_: spa::utils::SpaTypes::ObjectParamFormat.as_raw(),
            id: spa::param::ParamType::EnumFormat.as_raw(),
            properties,
        })
    };
    [
        common(
            MediaSubtype::Raw,
            Some(id_prop(
                FormatKey::VideoFormat,
                spa::param::video::VideoFormat::YUY2.as_raw(),
            )),
        ),
        common(MediaSubtype::Mjpg, None),
    ]
}

/// The Buffers param for a negotiated format: one plane, YUYV's exact size, or for
/// MJPG a bound no live-view JPEG of that size reaches (the raw size, at least 1 MiB).
fn buffers_param(f: Format) -> Vec<u8> {
    let raw = (f.width as i32)
        .saturating_mul(f.height as i32)
        .saturating_mul(2);
    let (size, stride) = match f.kind {
        Want::Jpeg => (raw.max(1 << 20), 0),
        _ => (raw, (f.width as i32).saturating_mul(2)),
    };
    let int = |key: u32, v: i32| Property::new(key, Value::Int(v));
    serialize(Object {
        type_: spa::utils::SpaTypes::ObjectParamBuffers.as_raw(),
        id: spa::param::ParamType::Buffers.as_raw(),
        properties: vec![
            Property::new(
                spa::sys::SPA_PARAM_BUFFERS_buffers,
                Value::Choice(spa::pod::ChoiceValue::Int(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Range {
                        default: BUFFERS,
                        min: 2,
                        max: 8,
                    },
                ))),
            ),
            int(spa::sys::SPA_PARAM_BUFFERS_blocks, 1),
            int(spa::sys::SPA_PARAM_BUFFERS_size, size),
            int(spa::sys::SPA_PARAM_BUFFERS_stride, stride),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_body() {
        let info = SourceInfo {
            model: "ILCE-6400".into(),
            serial: "01 23/45".into(),
        };
        assert_eq!(description(&info), "Sony ILCE-6400 (alpha-bridge)");
        assert_eq!(node_name(&info), "alpha-bridge.ILCE-6400.01_23_45");
        assert_eq!(node_name(&SourceInfo::default()), "alpha-bridge");
        assert_eq!(
            description(&SourceInfo::default()),
            "Sony camera (alpha-bridge)"
        );
    }

    #[test]
    fn offered_formats_parse_back_to_fixed_sizes() {
        let [raw, mjpg] = enum_formats(1024, 680, 30);
        let raw = parse_format(Pod::from_bytes(&raw).unwrap()).unwrap();
        let mjpg = parse_format(Pod::from_bytes(&mjpg).unwrap()).unwrap();
        assert_eq!((raw.kind, raw.width, raw.height), (Want::Yuyv, 1024, 680));
        assert_eq!(
            (mjpg.kind, mjpg.width, mjpg.height),
            (Want::Jpeg, 1024, 680)
        );
    }

    #[test]
    fn buffers_param_is_a_pod() {
        let b = buffers_param(Format {
            kind: Want::Yuyv,
            width: 640,
            height: 424,
        });
        let pod = Pod::from_bytes(&b).unwrap();
        let obj = pod.as_object().unwrap();
        let size = obj
            .find_prop(Id(spa::sys::SPA_PARAM_BUFFERS_size))
            .unwrap()
            .value()
            .get_int()
            .unwrap();
        assert_eq!(size, 640 * 424 * 2);
    }
}
