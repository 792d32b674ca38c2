#!/usr/bin/env node
// A test SMSC on the npm package `smpp` (not written by this project), for tests/smpp.
//
// Start:   node smsc.js [--port N] [--system-id ID] [--password PW]
//          (or SMSC_PORT / SMSC_SYSTEM_ID / SMSC_PASSWORD; port 0 = any free port).
//          It listens on 127.0.0.1 only and exits when its stdin closes.
//
// Control: newline-delimited JSON. Commands come in on stdin, one object a line:
//   {"cmd": "config", ...}        change settings (any of SETTINGS' keys below)
//   {"cmd": "throttle", "count": N, "status": "ESME_RTHROTTLED"}
//                                 refuse the next N submit_sm with that status
//   {"cmd": "deliver", "messages": [MO, ...], "session": S}
//                                 send deliver_sm, all in one TCP write; MO is
//                                 {"mo": label, "source", "destination", and either "text"
//                                 (+ "data_coding" 0/3/8, encoded by the npm package;
//                                 + "udh_hex" for a part of a concatenated MO, UDHL
//                                 included) or "short_message_hex" (+ "data_coding",
//                                 "esm_class"), and optionally "message_payload_hex" and
//                                 "sar": {"reference", "total", "seqnum"} (SAR TLVs)}
//   {"cmd": "enquire_link", "session": S}     send enquire_link to the ESME
//   {"cmd": "unbind", "session": S}           send unbind to the ESME
//   {"cmd": "drop", "session": S}             destroy the TCP connection(s)
//   {"cmd": "raw", "hex": "...", "session": S}  write raw bytes (malformed PDUs)
//   {"cmd": "mark", "label": "..."}           record a marker event
//   {"cmd": "dialogues", "numbers": [MSISDN, ...], "concurrency": C, "service": "10086",
//    "reply_to": "10086977", "first": "0000", "second": "1", "label": L, "timeout_ms": T}
//                                 drive dialogues itself (benchmarks): C numbers at a time,
//                                 each sends `first` to `service`; once every part of the
//                                 next MT submitted to that number has arrived (UDH
//                                 concatenation counted), it sends `second` to `reply_to`;
//                                 the next whole MT after that ends the dialogue and the
//                                 next number starts. Acked at once; when all are done (or
//                                 after timeout_ms) one "dialogues_done" event reports
//                                 counts, elapsed_ms, latency percentiles in ms ("first_ms":
//                                 deliver_sm of `first` written -> its reply's last
//                                 submit_sm read; "second_ms" likewise; "dialogue_ms": both)
//                                 and this process's CPU (cpu_user_ms, cpu_system_ms);
//                                 "submits" counts the dialogues' submit_sm parts.
//                                 MOs go round-robin over the bound sessions; they are owed
//                                 like any deliver_sm (redelivered on error).
//   {"cmd": "stop"}                           close and exit
// S is a session number (connection order, from 1); omitted = the latest bound session
// ("drop" without S drops them all). Every command is answered {"event": "ack", "cmd"},
// in order, with "error" when it could not be carried out.
//
// Events go out on stdout, one JSON object a line, in the order they happened; each has
// "n" (1, 2, 3, ... across all events) and "t" (ms since start). That order is the
// SMSC's record: e.g. a deliver_sm_resp event after a submit_sm event means the ESME
// answered the MO after it had sent that submit. Events: listening {port}, connect,
// bind {system_id, status}, submit_sm {seq, status, message_id, outstanding, ...},
// enquire_link {answered}, enquire_link_resp, deliver_sm_sent {mo, seq, attempt},
// deliver_sm_resp {mo, seq, status}, receipt_sent {message_id, stat}, unbind,
// unbind_resp, generic_nack {seq, status}, unknown {command_id}, close, error {message},
// and pdu {command, seq, status} for every PDU received (unless record_pdus is false).
// With record_deliveries false, deliver_sm_sent, deliver_sm_resp, receipt_sent and
// receipt_resp are not emitted (benchmarks).
//
// submit_sm events carry the decoded "text" and the UDH's information elements
// ("udh_hex", each IE with its id and length) when esm_class has UDHI, and "payload",
// the decoded message_payload TLV, when there is one.
// Receipts: a submit_sm with registered_delivery bit 0 set gets, receipt_delay_ms later,
// a deliver_sm with esm_class 0x04, the SMPP 3.4 Appendix B text ("id:... sub:001
// dlvrd:001 submit date:... done date:... stat:DELIVRD err:000 text:...") and the
// receipted_message_id and message_state TLVs; with receipt_first, before the
// submit_sm_resp (a receipt overtaking the id it reports on).
// Redelivery: a deliver_sm (MO or receipt) answered with a non-zero status, or not
// answered before its connection closed, is sent again (redeliver_delay_ms later, on the
// latest bound session) while "redeliver" is true, as an SMSC keeps what it owes an ESME.
'use strict';

const smpp = require('smpp');
const readline = require('readline');

const start = process.hrtime.bigint();
let eventNumber = 0;

function arg(name, envName, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i !== -1 && i + 1 < process.argv.length) return process.argv[i + 1];
  return process.env[envName] !== undefined ? process.env[envName] : fallback;
}

const SETTINGS = {
  system_id: arg('system-id', 'SMSC_SYSTEM_ID', 'vasguard'),
  password: arg('password', 'SMSC_PASSWORD', 'secret'),
  submit_delay_ms: 0, // delay before each submit_sm_resp (to hold the ESME's window full)
  receipt_delay_ms: 20,
  receipt_stat: 'DELIVRD',
  receipt_first: false, // true: the receipt goes out before the submit_sm_resp
  mute_enquire_link: false, // true: enquire_link from the ESME is not answered
  record_submits: true, // false: no submit_sm event (benchmarks)
  record_pdus: true, // false: no pdu event (benchmarks)
  record_deliveries: true, // false: no deliver_sm_* / receipt_* events (benchmarks)
  redeliver: true,
  redeliver_delay_ms: 50,
};
const MESSAGE_STATES = {
  DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8,
};

let throttle = { count: 0, status: smpp.ESME_RTHROTTLED };
let messageIds = 0;
let sessionCount = 0;
const sessions = new Map(); // number -> state
const unanswered = new Map(); // mo label -> {mo, attempt, session, seq, awaiting}
const receipts = new Map(); // message id -> {options, attempt, session, awaiting}

function emit(event, fields) {
  eventNumber += 1;
  const t = Number(process.hrtime.bigint() - start) / 1e6;
  process.stdout.write(JSON.stringify({ n: eventNumber, t, event, ...fields }) + '\n');
}

function latestBound() {
  let found = null;
  for (const state of sessions.values()) if (state.bound && !state.closed) found = state;
  return found;
}

function target(command) {
  if (command.session !== undefined) return sessions.get(command.session) || null;
  return latestBound();
}

function timestamp(date) {
  const p = (v) => String(v).padStart(2, '0');
  return `${p(date.getUTCFullYear() % 100)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}`;
}

function sendReceipt(state, submit, messageId) {
  const stat = SETTINGS.receipt_stat;
  const now = timestamp(new Date());
  let text = '';
  if (submit.short_message && typeof submit.short_message.message === 'string') {
    text = submit.short_message.message.replace(/[^\x20-\x7e]/g, '.').slice(0, 20);
  }
  const body = `id:${messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} ` +
    `submit date:${now} done date:${now} stat:${stat} err:000 text:${text}`;
  const entry = {
    messageId,
    stat,
    attempt: 0,
    session: null,
    awaiting: false,
    options: {
      source_addr: submit.destination_addr,
      destination_addr: submit.source_addr,
      esm_class: 0x04,
      data_coding: 0,
      short_message: Buffer.from(body, 'ascii'),
      receipted_message_id: messageId,
      message_state: MESSAGE_STATES[stat] || 7,
    },
  };
  receipts.set(messageId, entry);
  const live = state.closed ? latestBound() : state;
  if (live) deliverReceipt(live, entry);
}

// A receipt is owed like an MO: sent again (on the latest bound session) when it was
// answered with an error or its connection closed before it was answered.
function deliverReceipt(live, entry) {
  entry.attempt += 1;
  entry.session = live.number;
  entry.awaiting = true;
  live.session.deliver_sm(entry.options, (resp) => {
    entry.awaiting = false;
    if (SETTINGS.record_deliveries) {
      emit('receipt_resp', {
        session: live.number, message_id: entry.messageId, status: resp.command_status,
        attempt: entry.attempt,
      });
    }
    if (resp.command_status === 0 || !SETTINGS.redeliver) receipts.delete(entry.messageId);
    else scheduleRedelivery();
  });
  if (SETTINGS.record_deliveries) {
    emit('receipt_sent', {
      session: live.number, message_id: entry.messageId, stat: entry.stat, attempt: entry.attempt,
    });
  }
}

function deliverPdu(mo) {
  const options = {
    source_addr: mo.source || '989120000000',
    source_addr_ton: 1,
    source_addr_npi: 1,
    destination_addr: mo.destination || '1234',
    esm_class: mo.esm_class || 0,
    data_coding: mo.data_coding === undefined ? 0 : mo.data_coding,
  };
  if (mo.short_message_hex !== undefined) {
    options.short_message = Buffer.from(mo.short_message_hex, 'hex');
  } else if (mo.udh_hex !== undefined) {
    options.short_message = { udh: Buffer.from(mo.udh_hex, 'hex'), message: mo.text || '' };
  } else {
    options.short_message = mo.text || '';
  }
  if (mo.message_payload_hex !== undefined) {
    options.message_payload = Buffer.from(mo.message_payload_hex, 'hex');
  }
  if (mo.sar !== undefined) {
    options.sar_msg_ref_num = mo.sar.reference;
    options.sar_total_segments = mo.sar.total;
    options.sar_segment_seqnum = mo.sar.seqnum;
  }
  return new smpp.PDU('deliver_sm', options);
}

function deliver(state, entries) {
  state.session.socket.cork();
  for (const entry of entries) {
    entry.attempt += 1;
    entry.session = state.number;
    entry.awaiting = true;
    const pdu = deliverPdu(entry.mo);
    state.session.send(pdu, (resp) => {
      entry.awaiting = false;
      if (SETTINGS.record_deliveries) {
        emit('deliver_sm_resp', {
          session: state.number, mo: entry.mo.mo, seq: resp.sequence_number,
          status: resp.command_status, attempt: entry.attempt,
        });
      }
      if (resp.command_status === 0 || !SETTINGS.redeliver) {
        unanswered.delete(entry.mo.mo);
      } else {
        scheduleRedelivery();
      }
    });
    entry.seq = pdu.sequence_number;
    if (entry.dialogue !== undefined && entry.attempt === 1) entry.dialogue.sent = now();
    if (SETTINGS.record_deliveries) {
      emit('deliver_sm_sent', {
        session: state.number, mo: entry.mo.mo, seq: pdu.sequence_number, attempt: entry.attempt,
      });
    }
  }
  process.nextTick(() => state.session.socket.uncork());
}

// Send again every MO that is owed an answer and not awaiting one (so never twice at once).
function redeliverDue() {
  const state = latestBound();
  const due = [...unanswered.values()].filter((entry) => !entry.awaiting);
  if (SETTINGS.redeliver && state && due.length) deliver(state, due);
  if (!SETTINGS.redeliver || !state) return;
  for (const entry of receipts.values()) if (!entry.awaiting) deliverReceipt(state, entry);
}

function scheduleRedelivery() {
  setTimeout(redeliverDue, SETTINGS.redeliver_delay_ms);
}

function onSession(session) {
  // No Nagle: a PDU leaves when written, not after the ESME's delayed ACK (up to 40 ms).
  session.socket.setNoDelay(true);
  sessionCount += 1;
  const state = {
    number: sessionCount, session, bound: false, closed: false, outstanding: 0,
  };
  sessions.set(state.number, state);
  emit('connect', { session: state.number });

  function bind(pdu) {
    let status = 0;
    if (pdu.system_id !== SETTINGS.system_id) status = smpp.ESME_RINVSYSID;
    else if (pdu.password !== SETTINGS.password) status = smpp.ESME_RINVPASWD;
    emit('bind', {
      session: state.number, command: pdu.command, system_id: pdu.system_id,
      system_type: pdu.system_type, status,
    });
    session.send(pdu.response({ command_status: status, system_id: 'npm-smsc' }));
    if (status !== 0) {
      session.close();
      return;
    }
    state.bound = true;
    scheduleRedelivery();
  }
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  session.on('bind_receiver', bind);

  session.on('submit_sm', (pdu) => {
    state.outstanding += 1;
    let status = 0;
    let messageId = '';
    if (throttle.count > 0) {
      throttle.count -= 1;
      status = throttle.status;
    } else {
      messageIds += 1;
      messageId = `npm${messageIds.toString(16).padStart(8, '0')}`;
    }
    if (SETTINGS.record_submits) {
      const sm = pdu.short_message;
      emit('submit_sm', {
        session: state.number, seq: pdu.sequence_number, status, message_id: messageId,
        outstanding: state.outstanding, source_addr: pdu.source_addr,
        destination_addr: pdu.destination_addr, data_coding: pdu.data_coding,
        esm_class: pdu.esm_class, registered_delivery: pdu.registered_delivery,
        text: sm && typeof sm.message === 'string' ? sm.message : null,
        payload: pdu.message_payload && typeof pdu.message_payload.message === 'string'
          ? pdu.message_payload.message : null,
        udh_hex: sm && sm.udh ? sm.udh.map((ie) => Buffer.from(ie).toString('hex')) : null,
      });
    }
    if (status === 0 && dialogueRun) dialogueSubmit(pdu);
    const wantsReceipt = status === 0 && (pdu.registered_delivery & 0x01);
    if (wantsReceipt && SETTINGS.receipt_first) sendReceipt(state, pdu, messageId);
    const answer = () => {
      state.outstanding -= 1;
      session.send(pdu.response({ command_status: status, message_id: messageId }));
      if (wantsReceipt && !SETTINGS.receipt_first) {
        setTimeout(() => sendReceipt(state, pdu, messageId), SETTINGS.receipt_delay_ms);
      }
    };
    if (SETTINGS.submit_delay_ms > 0) setTimeout(answer, SETTINGS.submit_delay_ms);
    else answer();
  });

  session.on('pdu', (pdu) => {
    if (SETTINGS.record_pdus) {
      emit('pdu', {
        session: state.number, command: pdu.command, seq: pdu.sequence_number,
        status: pdu.command_status,
      });
    }
  });
  session.on('enquire_link', (pdu) => {
    const answered = !SETTINGS.mute_enquire_link;
    emit('enquire_link', { session: state.number, seq: pdu.sequence_number, answered });
    if (answered) session.send(pdu.response());
  });
  session.on('unbind', (pdu) => {
    emit('unbind', { session: state.number, seq: pdu.sequence_number });
    session.send(pdu.response());
    state.bound = false;
    session.close();
  });
  session.on('generic_nack', (pdu) => {
    emit('generic_nack', {
      session: state.number, seq: pdu.sequence_number, status: pdu.command_status,
    });
  });
  session.on('unknown', (pdu) => {
    emit('unknown', { session: state.number, command_id: pdu.command_id });
    session.send(pdu.response());
  });
  session.on('error', (error) => {
    emit('error', { session: state.number, message: String(error && error.message) });
  });
  session.on('close', () => {
    state.closed = true;
    state.bound = false;
    emit('close', { session: state.number });
    for (const entry of [...unanswered.values(), ...receipts.values()]) {
      if (entry.session === state.number) entry.awaiting = false; // its answer will never come
    }
    scheduleRedelivery();
  });
}

// --- dialogues: the SMSC drives 0000-then-1 round trips itself (benchmarks) ----------

let dialogueRun = null;
let dialogueTurn = 0;

function now() {
  return process.hrtime.bigint();
}

function ms(from, to) {
  return Number(to - from) / 1e6;
}

function startDialogues(command) {
  if (dialogueRun) throw new Error('dialogues are already running');
  const run = {
    label: command.label || 'dialogue',
    numbers: command.numbers || [],
    next: 0,
    service: command.service || '10086',
    replyTo: command.reply_to || command.service || '10086',
    first: command.first || '0000',
    second: command.second || '1',
    active: new Map(), // msisdn -> dialogue
    firstMs: [],
    secondMs: [],
    dialogueMs: [],
    done: 0,
    submits: 0,
    otherMts: 0,
    queued: [],
    began: now(),
    cpu: process.cpuUsage(),
    timer: null,
  };
  dialogueRun = run;
  run.timer = setTimeout(() => finishDialogues('timeout'), command.timeout_ms || 120000);
  const concurrency = Math.max(1, command.concurrency || 50);
  for (let i = 0; i < concurrency; i += 1) startDialogue(run);
  if (run.numbers.length === 0) finishDialogues('done');
}

function startDialogue(run) {
  if (run.next >= run.numbers.length) return;
  const index = run.next;
  run.next += 1;
  const dialogue = {
    number: run.numbers[index], index, step: 1, started: null, sent: null, parts: new Map(),
  };
  run.active.set(dialogue.number, dialogue);
  queueDialogueMo(run, dialogue, run.first, run.service);
}

// MOs queued in one event-loop turn leave together: one write per session.
function queueDialogueMo(run, dialogue, text, destination) {
  const entry = {
    mo: {
      mo: `${run.label}:${dialogue.index}:${dialogue.step}`,
      source: dialogue.number,
      destination,
      text,
    },
    attempt: 0, session: null, seq: null, awaiting: false, dialogue,
  };
  unanswered.set(entry.mo.mo, entry);
  run.queued.push(entry);
  if (run.queued.length === 1) setImmediate(() => flushDialogueMos(run));
}

function flushDialogueMos(run) {
  if (dialogueRun !== run || run.queued.length === 0) return;
  const bound = [...sessions.values()].filter((state) => state.bound && !state.closed);
  if (bound.length === 0) {
    setTimeout(() => flushDialogueMos(run), 10);
    return;
  }
  dialogueTurn += 1;
  const entries = run.queued;
  run.queued = [];
  deliver(bound[dialogueTurn % bound.length], entries);
  for (const entry of entries) {
    if (entry.dialogue.started === null) entry.dialogue.started = entry.dialogue.sent;
  }
}

// A submit_sm accepted: the part of a reply to a dialogue's number.
function dialogueSubmit(pdu) {
  const run = dialogueRun;
  const dialogue = run.active.get(pdu.destination_addr);
  if (!dialogue || dialogue.sent === null) {
    run.otherMts += 1;
    return;
  }
  let reference = 'whole';
  let total = 1;
  const sm = pdu.short_message;
  for (const ie of (sm && sm.udh) || []) {
    if (ie[0] === 0x00 && ie.length >= 5) {
      reference = `8:${ie[2]}`;
      total = ie[3];
    } else if (ie[0] === 0x08 && ie.length >= 6) {
      reference = `16:${ie[2] * 256 + ie[3]}`;
      total = ie[4];
    }
  }
  run.submits += 1;
  const seen = (dialogue.parts.get(reference) || 0) + 1;
  dialogue.parts.set(reference, seen);
  if (seen < total) return;
  dialogue.parts.clear();
  const at = now();
  if (dialogue.step === 1) {
    run.firstMs.push(ms(dialogue.sent, at));
    dialogue.step = 2;
    dialogue.sent = null;
    queueDialogueMo(run, dialogue, run.second, run.replyTo);
    return;
  }
  run.secondMs.push(ms(dialogue.sent, at));
  run.dialogueMs.push(ms(dialogue.started, at));
  run.active.delete(dialogue.number);
  run.done += 1;
  if (run.done === run.numbers.length) finishDialogues('done');
  else startDialogue(run);
}

function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1,
    Math.max(0, Math.ceil(sorted.length * p) - 1))] : null);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null;
  return {
    count: sorted.length, mean, p50: at(0.5), p90: at(0.9), p99: at(0.99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
  };
}

function finishDialogues(reason) {
  const run = dialogueRun;
  if (!run) return;
  dialogueRun = null;
  clearTimeout(run.timer);
  const cpu = process.cpuUsage(run.cpu);
  emit('dialogues_done', {
    label: run.label,
    reason,
    dialogues: run.numbers.length,
    done: run.done,
    unfinished: run.numbers.length - run.done,
    submits: run.submits,
    other_mts: run.otherMts,
    elapsed_ms: ms(run.began, now()),
    first_ms: percentiles(run.firstMs),
    second_ms: percentiles(run.secondMs),
    dialogue_ms: percentiles(run.dialogueMs),
    cpu_user_ms: cpu.user / 1000,
    cpu_system_ms: cpu.system / 1000,
  });
}

const server = smpp.createServer(onSession);
server.on('error', (error) => {
  emit('error', { message: String(error && error.message) });
  process.exit(1);
});
server.listen(Number(arg('port', 'SMSC_PORT', '0')), '127.0.0.1', () => {
  emit('listening', { port: server.address().port });
});

function handle(command) {
  switch (command.cmd) {
    case 'config':
      for (const key of Object.keys(SETTINGS)) {
        if (command[key] !== undefined) SETTINGS[key] = command[key];
      }
      break;
    case 'throttle':
      throttle = {
        count: command.count || 0,
        status: smpp[command.status || 'ESME_RTHROTTLED'],
      };
      break;
    case 'deliver': {
      const state = target(command);
      if (!state) throw new Error('no bound session to deliver on');
      const entries = command.messages.map(
        (mo) => ({ mo, attempt: 0, session: null, seq: null, awaiting: false }),
      );
      for (const entry of entries) unanswered.set(entry.mo.mo, entry);
      deliver(state, entries);
      break;
    }
    case 'enquire_link': {
      const state = target(command);
      if (!state) throw new Error('no bound session');
      state.session.enquire_link({}, (resp) => {
        emit('enquire_link_resp', {
          session: state.number, seq: resp.sequence_number, status: resp.command_status,
        });
      });
      break;
    }
    case 'unbind': {
      const state = target(command);
      if (!state) throw new Error('no bound session');
      state.session.unbind({}, (resp) => {
        emit('unbind_resp', { session: state.number, status: resp.command_status });
        state.session.close();
      });
      break;
    }
    case 'drop':
      for (const state of sessions.values()) {
        if (!state.closed && (command.session === undefined || command.session === state.number)) {
          state.session.destroy();
        }
      }
      break;
    case 'raw': {
      const state = target(command);
      if (!state) throw new Error('no bound session');
      state.session.socket.write(Buffer.from(command.hex, 'hex'));
      break;
    }
    case 'mark':
      emit('mark', { label: command.label });
      break;
    case 'dialogues':
      startDialogues(command);
      break;
    case 'stop':
      emit('ack', { cmd: 'stop' });
      for (const state of sessions.values()) if (!state.closed) state.session.destroy();
      server.close();
      process.exit(0);
      break;
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
  emit('ack', { cmd: command.cmd });
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  try {
    handle(JSON.parse(line));
  } catch (error) {
    emit('ack', { cmd: null, error: String(error && error.message), line });
  }
}).on('close', () => process.exit(0));
