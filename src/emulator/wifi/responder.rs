//! The PTP/IP responder (docs/protocol/ptpip.md): one TCP port for both the command and the
//! event connection, one thread per connection, one session per activation.
//!
//! It streams object data from disk chunk by chunk (constant memory for multi-GiB
//! files), writes one packet per `write`, and applies the fault switches (drop after N
//! object bytes, rate cap). It must not trust anything the initiator sends: every
//! packet length is capped before allocating and data-out payloads are bounded.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ptp::codes::{OpCode, ResponseCode};

use super::session::{self, After, DataIn, Session};
use super::wire::{self, Packet};
use super::{Activation, DataInStyle, Shared, MAX_LOGGED_OPS};
use crate::ptp::container::Params;
use crate::ptp::ptpip::{self, Decoder};
use crate::ptp::ptpip::{fail_reason, PROTOCOL_VERSION};

/// Largest packet accepted from the initiator (libgphoto2 sends 64 KiB data chunks).
const MAX_PACKET: u32 = 16 << 20;
/// Largest data-out payload kept; more is drained and refused.
const MAX_DATA_OUT: usize = 1 << 20;
/// How long a powered-off body still waits for CloseSession.
const POWER_OFF_GRACE: Duration = Duration::from_secs(2);

pub(super) fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                log::warn!("emulator: ptp/ip accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let s = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("emu-wifi-conn".into())
            .spawn(move || {
                if let Err(e) = serve(&s, stream) {
                    log::debug!("emulator: ptp/ip connection ended: {e}");
                }
            });
        if let Err(e) = spawned {
            log::warn!("emulator: cannot start a connection thread: {e}");
        }
    }
}

/// Forgets a connection's clone when its thread ends, so a long-running emulator does
/// not accumulate file descriptors.
struct Registered<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.lock().conns.remove(&self.id);
        self.shared.notify();
    }
}

fn serve(shared: &Shared, mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let _registered = {
        let mut st = shared.lock();
        if shared.stopping() {
            return Ok(());
        }
        if st.activation == Activation::PoweredOff {
            // The body is off; nothing answers.
            return Ok(());
        }
        let id = st.next_conn_id;
        st.next_conn_id += 1;
        st.conns.insert(id, stream.try_clone()?);
        Registered { shared, id }
    };
    let mut reader = Decoder::with_max_packet(MAX_PACKET);
    loop {
        let Some(first) = wire::read(&mut reader, &mut stream)? else {
            return Ok(());
        };
        match first {
            Packet::ProbeRequest => wire::write_packet(&mut stream, &Packet::ProbeResponse)?,
            Packet::InitCommandRequest { guid, name, .. } => {
                return command_connection(shared, stream, reader, guid, &name)
            }
            Packet::InitEventRequest { connection } => {
                return event_connection(shared, stream, reader, connection)
            }
            other => {
                log::warn!("emulator: expected an init request, got {other:?}; closing");
                return Ok(());
            }
        }
    }
}

/// Reads and discards until the peer or stop() closes the connection: the real body
/// accepts the TCP connection and never answers
/// (docs/protocol/offload.md#one-session-per-activation).
fn hold_silently(mut stream: TcpStream) -> io::Result<()> {
    let mut sink = [0u8; 4096];
    while stream.read(&mut sink)? > 0 {}
    Ok(())
}

fn command_connection(
    shared: &Shared,
    mut stream: TcpStream,
    mut reader: Decoder,
    guid: [u8; 16],
    name: &str,
) -> io::Result<()> {
    shared.bump(|s| s.init_requests += 1);
    if !(shared.accept)(&guid) {
        log::info!("emulator: rejecting unregistered initiator {name:?} ({guid:02x?})");
        shared.bump(|s| s.init_fails += 1);
        return wire::write_packet(
            &mut stream,
            &Packet::InitFail {
                reason: fail_reason::REJECTED_INITIATOR,
            },
        );
    }
    let pc_remote = shared.pc_remote.is_some();
    let connection = {
        let mut st = shared.lock();
        if pc_remote && st.activation == Activation::InSession {
            // A body in PC Remote takes its host back after a lost link: the old
            // session is cut.
            log::info!("emulator: a new session from {name:?} replaces the current one");
            for c in st.session_conns.drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
            st.activation = Activation::Waiting;
        }
        if st.activation != Activation::Waiting {
            st.stats.unanswered_inits += 1;
            drop(st);
            shared.notify();
            log::info!("emulator: second initiator {name:?} in this activation: not answering");
            return hold_silently(stream);
        }
        st.activation = Activation::InSession;
        let c = st.next_connection;
        st.next_connection = st.next_connection.wrapping_add(1).max(1);
        st.current_connection = Some(c);
        st.event_attached = false;
        st.session_conns.push(stream.try_clone()?);
        st.stats.sessions += 1;
        c
    };
    shared.notify();
    log::info!("emulator: session {connection} with {name:?}");
    let ack = Packet::InitCommandAck {
        connection,
        guid: shared.responder_guid,
        name: shared.identity.model.clone(),
        version: shared.ack_with_version.then_some(PROTOCOL_VERSION),
    };
    let result = wire::write_packet(&mut stream, &ack).and_then(|()| match &shared.pc_remote {
        Some(body) => super::remote::run(shared, body, &mut stream, &mut reader),
        None => run_session(shared, &mut stream, &mut reader),
    });
    // Whatever ended the session, this activation is spent.
    let mut st = shared.lock();
    if st.current_connection == Some(connection) {
        if st.activation == Activation::InSession {
            // PC Remote accepts its host again at once; Send to Computer is spent.
            st.activation = if pc_remote {
                Activation::Waiting
            } else {
                Activation::Used
            };
        }
        st.event_stream = None;
        st.current_connection = None;
        for c in st.session_conns.drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
    drop(st);
    shared.notify();
    result
}

fn event_connection(
    shared: &Shared,
    mut stream: TcpStream,
    mut reader: Decoder,
    connection: u32,
) -> io::Result<()> {
    {
        let mut st = shared.lock();
        let ok = st.activation == Activation::InSession
            && st.current_connection == Some(connection)
            && !st.event_attached;
        if !ok {
            drop(st);
            log::info!("emulator: init event request for unknown connection {connection}");
            return wire::write_packet(
                &mut stream,
                &Packet::InitFail {
                    reason: fail_reason::UNSPECIFIED,
                },
            );
        }
        st.event_attached = true;
        st.session_conns.push(stream.try_clone()?);
        st.event_stream = Some(stream.try_clone()?);
    }
    wire::write_packet(&mut stream, &Packet::InitEventAck)?;
    while let Some(p) = wire::read(&mut reader, &mut stream)? {
        match p {
            Packet::ProbeRequest => wire::write_packet(&mut stream, &Packet::ProbeResponse)?,
            Packet::ProbeResponse => {}
            other => log::debug!("emulator: ignoring {other:?} on the event connection"),
        }
    }
    Ok(())
}

/// One operation request from the command connection: (DataPhaseInfo, code, tid,
/// parameters); `Ok(None)` when the host hung up. Probes are answered, a Cancel or a
/// stray End Data skipped (libgphoto2 skips a stray End Data; so does the body).
pub(super) fn next_request(
    stream: &mut TcpStream,
    reader: &mut Decoder,
) -> io::Result<Option<(u32, OpCode, u32, Params)>> {
    loop {
        let Some(p) = wire::read(reader, stream)? else {
            return Ok(None);
        };
        match p {
            Packet::OperationRequest {
                data_phase,
                code,
                tid,
                params,
            } => return Ok(Some((data_phase, code, tid, params))),
            Packet::ProbeRequest => wire::write_packet(stream, &Packet::ProbeResponse)?,
            Packet::ProbeResponse | Packet::Cancel { .. } | Packet::EndData { .. } => {}
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unexpected {other:?} on the command connection"),
                ))
            }
        }
    }
}

fn run_session(shared: &Shared, stream: &mut TcpStream, reader: &mut Decoder) -> io::Result<()> {
    let mut session = Session::new();
    let mut buf = Vec::new();
    loop {
        let Some((data_phase, op, tid, params)) = next_request(stream, reader)? else {
            return Ok(());
        };
        log::debug!("emulator: {op} {params:x?} tid {tid}");
        {
            let mut st = shared.lock();
            if st.stats.ops.len() < MAX_LOGGED_OPS {
                st.stats.ops.push(op);
            }
        }
        shared.notify();
        let data_out = if session::expects_data_out(op.0, data_phase) {
            Some(receive_data_out(stream, reader, tid)?)
        } else {
            None
        };
        let mut reply = match &data_out {
            Some(Err(too_big)) => {
                log::warn!("emulator: {op} data-out of {too_big} bytes refused");
                session::Reply {
                    code: ResponseCode::INVALID_PARAMETER,
                    params: Vec::new(),
                    data: DataIn::None,
                    after: After::Continue,
                }
            }
            Some(Ok(d)) => session.handle(
                &shared.storage,
                &shared.identity,
                op,
                params.as_slice(),
                Some(d.as_slice()),
            ),
            None => session.handle(
                &shared.storage,
                &shared.identity,
                op,
                params.as_slice(),
                None,
            ),
        };
        if op == OpCode::SONY_EXT_CMD_READ && session.started() {
            shared.bump(|s| s.started = true);
        }
        match std::mem::replace(&mut reply.data, DataIn::None) {
            DataIn::None => {}
            DataIn::Bytes(b) => {
                let mut r: &[u8] = &b;
                send_data_in(
                    shared,
                    stream,
                    tid,
                    b.len() as u64,
                    b.len() as u64,
                    &mut r,
                    false,
                    &mut buf,
                )?;
            }
            DataIn::Object {
                handle,
                offset,
                len,
                total,
            } => {
                // Start Data always tells the truth; only ObjectInfo lies for a fake
                // object with a declared size (the host must trust the data phase).
                let opened = shared
                    .storage
                    .get(handle)
                    .ok_or_else(|| io::Error::other("no such object"))
                    .and_then(|o| o.open_range(offset, len));
                match opened {
                    Ok(mut r) => {
                        send_data_in(shared, stream, tid, total, len, &mut r, true, &mut buf)?
                    }
                    Err(e) => {
                        // A file removed behind the emulator's back: refuse before any
                        // data phase, as a body with an unreadable card would.
                        log::warn!("emulator: cannot read object {handle}: {e}");
                        reply.code = ResponseCode::GENERAL_ERROR;
                        reply.params.clear();
                    }
                }
            }
        }
        wire::write_packet(
            stream,
            &Packet::OperationResponse {
                code: reply.code,
                tid,
                params: Params::new(&reply.params).unwrap_or_default(),
            },
        )?;
        match reply.after {
            After::Continue | After::Closed => {}
            After::PowerOff => {
                log::info!("emulator: powering off");
                let mut st = shared.lock();
                st.activation = Activation::PoweredOff;
                st.stats.powered_off = true;
                drop(st);
                shared.notify();
                if !shared.abrupt_power_off && op != OpCode::CLOSE_SESSION {
                    linger_for_close_session(shared, stream, reader)?;
                }
                return Ok(());
            }
        }
    }
}

/// After the power-off reply the body still takes the host's CloseSession
/// (docs/protocol/offload.md#sony-end, step 3) and lets the host hang up first, for a
/// moment, then goes dark; the event channel stays open until then.
/// `Faults::abrupt_power_off` skips this.
fn linger_for_close_session(
    shared: &Shared,
    stream: &mut TcpStream,
    reader: &mut Decoder,
) -> io::Result<()> {
    let deadline = Instant::now() + POWER_OFF_GRACE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        stream.set_read_timeout(Some(left))?;
        let Ok(Some(p)) = wire::read(reader, stream) else {
            // End of stream, timeout or garbage: either way the body is off now.
            return Ok(());
        };
        if let Packet::OperationRequest { code, tid, .. } = p {
            shared.bump(|s| {
                if s.ops.len() < MAX_LOGGED_OPS {
                    s.ops.push(code)
                }
            });
            if code == OpCode::CLOSE_SESSION {
                wire::write_packet(
                    stream,
                    &Packet::OperationResponse {
                        code: ResponseCode::OK,
                        tid,
                        params: Params::default(),
                    },
                )?;
            }
        }
    }
}

/// Receives a data-out phase in either style (Data packets + empty End Data, or the last
/// chunk inside End Data). `Ok(Err(n))` = the payload exceeded the cap and was drained.
pub(super) fn receive_data_out(
    stream: &mut TcpStream,
    reader: &mut Decoder,
    tid: u32,
) -> io::Result<Result<Vec<u8>, u64>> {
    let total = loop {
        match wire::read(reader, stream)? {
            Some(Packet::StartData { tid: t, total }) => {
                if t != tid {
                    log::warn!("emulator: Start Data for tid {t} during tid {tid}");
                }
                break total;
            }
            Some(Packet::ProbeRequest) => wire::write_packet(stream, &Packet::ProbeResponse)?,
            Some(other) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("expected Start Data, got {other:?}"),
                ))
            }
            None => return Err(io::ErrorKind::UnexpectedEof.into()),
        }
    };
    let mut data = Vec::with_capacity(usize::try_from(total).unwrap_or(0).min(MAX_DATA_OUT));
    let mut received: u64 = 0;
    loop {
        let (payload, end) = match wire::read(reader, stream)? {
            Some(Packet::Data { payload, .. }) => (payload, false),
            Some(Packet::EndData { payload, .. }) => (payload, true),
            Some(Packet::ProbeRequest) => {
                wire::write_packet(stream, &Packet::ProbeResponse)?;
                continue;
            }
            Some(other) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("expected Data or End Data, got {other:?}"),
                ))
            }
            None => return Err(io::ErrorKind::UnexpectedEof.into()),
        };
        received = received.saturating_add(payload.len() as u64);
        if received <= MAX_DATA_OUT as u64 {
            data.extend_from_slice(&payload);
        }
        if end {
            break;
        }
    }
    if received != total && total != u64::MAX {
        log::warn!("emulator: data-out declared {total} bytes, received {received}");
    }
    Ok(if received > MAX_DATA_OUT as u64 {
        Err(received)
    } else {
        Ok(data)
    })
}

/// Streams a data-in phase: Start Data, then chunks as Data / End Data in the configured
/// style. `object` payloads count for the drop fault and the stats.
#[allow(clippy::too_many_arguments)]
pub(super) fn send_data_in(
    shared: &Shared,
    stream: &mut TcpStream,
    tid: u32,
    declared: u64,
    len: u64,
    src: &mut dyn Read,
    object: bool,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    wire::write_packet(
        stream,
        &Packet::StartData {
            tid,
            total: declared,
        },
    )?;
    let mut chunk = shared.chunk_size;
    if let Some(rate) = shared.rate_limit {
        // Small packets keep a slow link smooth.
        chunk = chunk.min(usize::try_from(rate / 20).unwrap_or(usize::MAX).max(512));
    }
    let started = Instant::now();
    let mut remaining = len;
    let mut sent: u64 = 0;
    loop {
        let n = usize::try_from(remaining).unwrap_or(usize::MAX).min(chunk);
        let last = n as u64 == remaining;
        let end_packet = match shared.style {
            DataInStyle::EmptyEndData => false,
            DataInStyle::LastChunkInEndData => last,
        };
        if n > 0 || end_packet {
            // The buffer only grows (to one chunk), so nothing is re-zeroed per packet.
            if buf.len() < 12 + n {
                buf.resize(12 + n, 0);
            }
            src.read_exact(&mut buf[12..12 + n])?;
            buf[..12].copy_from_slice(
                &ptpip::data_header(end_packet, tid, n)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            );
            let mut write_len = 12 + n;
            let mut cut = false;
            if object {
                let mut st = shared.lock();
                if let Some(budget) = st.drop_budget {
                    if budget <= n as u64 {
                        write_len = 12 + budget as usize;
                        st.drop_budget = None;
                        st.stats.drops_injected += 1;
                        cut = true;
                    } else {
                        st.drop_budget = Some(budget - n as u64);
                    }
                }
                st.stats.object_bytes_sent += (write_len - 12) as u64;
            }
            stream.write_all(&buf[..write_len])?;
            if cut {
                log::info!("emulator: fault: dropping the connection mid-object");
                stream.flush()?;
                let st = shared.lock();
                for c in &st.session_conns {
                    let _ = c.shutdown(Shutdown::Both);
                }
                drop(st);
                shared.notify();
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "fault injected: connection dropped mid-object",
                ));
            }
            remaining -= n as u64;
            sent += n as u64;
            if let Some(rate) = shared.rate_limit {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                let elapsed = started.elapsed();
                if due > elapsed {
                    std::thread::sleep(due - elapsed);
                }
            }
        }
        if end_packet {
            return Ok(());
        }
        if remaining == 0 {
            break;
        }
    }
    wire::write_packet(
        stream,
        &Packet::EndData {
            tid,
            payload: Vec::new(),
        },
    )
}
