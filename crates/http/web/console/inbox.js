// The Page inbox: the Pages the signed-in person answers for, one Page's threads refreshed live, and one thread where an agent takes over, answers, hands back to the bot and files it (Done, Spam, back to the inbox).

import { main, session, view, every } from './app.js';
import { h, append, replace, shown, changed, field, statusLine, say, act, describe, table, section, formatTime } from './dom.js';

/** The Page Inbox's app id, the same on every Page. */
export const PAGE_INBOX_APP = '263902037430900';

/** The folders a thread is filed in, as the inbox names them. */
const FOLDERS = { inbox: 'Inbox', page_done: 'Done', spam: 'Spam' };

/** How often the inbox asks again, in ms. */
const REFRESH_MS = 2000;

/** Calls `work` every `REFRESH_MS` while the page is visible (the view's timers stop on navigation). */
function refreshing(work) {
  every(REFRESH_MS, () => { if (!document.hidden) work(); });
}

// ---- #/inbox: the Pages ----

export async function inboxesView() {
  const list = h('div', { id: 'inbox-pages' }, h('p', { text: 'Loading…' }));
  view('Inbox', section('Pages you answer for', 'inbox-pages-section',
    h('p', { class: 'hint', text: 'Conversations a bot passed to the Page Inbox wait here for an agent.' }), list));
  const load = async () => {
    try {
      const { data } = await session.api.inboxes();
      if (!changed(list, data)) return;
      const rows = data.map((page) => h('tr', { 'data-page': page.id },
        h('th', { scope: 'row' }, h('a', { href: `#/inbox/${encodeURIComponent(page.id)}`, text: page.name })),
        h('td', { text: page.username ? `@${page.username}` : '–' }),
        h('td', { text: page.role || (session.operator ? 'operator' : '–') }),
        h('td', {}, page.waiting ? h('span', { class: 'badge waiting-badge', text: `${page.waiting} waiting` }) : 'none waiting')));
      replace(list, table('Pages you answer for', ['Page', 'Username', 'Your role', 'Waiting'], rows,
        'You answer for no Page: a Page admin gives you the admin or agent role.'));
    } catch (error) {
      shown.delete(list);
      replace(list, h('p', { class: 'status error', text: `The inbox cannot be listed: ${describe(error)}` }));
    }
  };
  refreshing(load);
  await load();
}

// ---- #/inbox/{page}[/{psid}]: one Page's threads, and one thread beside them ----

export async function inboxView(pageId, psid) {
  const title = h('span', { text: 'Inbox' });
  const threads = h('ul', { id: 'inbox-threads', class: 'inbox-threads', 'aria-label': 'Conversations' }, h('li', { class: 'empty', text: 'Loading…' }));
  const listLine = statusLine('inbox-list-status');
  const listPane = h('section', { class: 'panel inbox-list', id: 'inbox-list', 'aria-labelledby': 'inbox-list-heading' },
    h('h2', { id: 'inbox-list-heading', text: 'Conversations' }), listLine, threads);
  const thread = psid ? threadPane(pageId, psid, () => loadList()) : null;
  const pane = thread ? thread.node : h('section', { class: 'panel inbox-thread-pane', id: 'inbox-thread', 'aria-label': 'Conversation' },
    h('p', { class: 'hint', text: 'Choose a conversation to read it, take it over and answer.' }));
  const heading = view('Inbox');
  append(main, h('p', { class: 'subtitle' }, h('a', { href: '#/inbox', text: 'All Pages' }), ' · ', title),
    h('div', { class: 'inbox-layout' }, listPane, pane));

  // The Page's name, from the list of Pages one may work in (the heading follows it).
  session.api.inboxes().then(({ data }) => {
    const page = data.find((p) => p.id === pageId);
    if (!page || !heading.isConnected) return;
    title.textContent = `@${page.username}`;
    heading.textContent = `Inbox of ${page.name}`;
    document.title = `Inbox of ${page.name} · Switchboard Console`;
  }, () => {});

  const loadList = async () => {
    try {
      const { data } = await session.api.pageInbox(pageId);
      say(listLine, '');
      if (!changed(threads, data)) return;
      if (!data.length) return replace(threads, h('li', { class: 'empty', text: 'No conversations yet.' }));
      replace(threads, data.map((t) => threadRow(pageId, t, t.psid === psid)));
    } catch (error) {
      shown.delete(threads);
      say(listLine, `The conversations cannot be listed: ${describe(error)}`, 'error');
    }
  };
  const all = () => Promise.all([loadList(), thread ? thread.load() : null]);
  refreshing(all);
  await all();
}

/** One thread in the list: who, what was said last, when, who has it. */
function threadRow(pageId, t, current) {
  const classes = ['inbox-thread', `state-${t.state}`];
  if (t.state === 'waiting') classes.push('waiting');
  if (t.unread > 0) classes.push('unread');
  if (current) classes.push('current');
  const link = h('a', { href: `#/inbox/${encodeURIComponent(pageId)}/${encodeURIComponent(t.psid)}`, class: 'inbox-thread-link', 'aria-current': current ? 'page' : null },
    h('span', { class: 'inbox-thread-top' },
      h('span', { class: 'inbox-name', text: t.name || t.psid }),
      t.unread > 0 ? h('span', { class: 'unread-mark', text: String(t.unread), title: `${t.unread} unread`, 'aria-label': `${t.unread} unread` }) : null,
      h('time', { class: 'inbox-time', datetime: new Date(t.last_message_at).toISOString(), text: shortTime(t.last_message_at) })),
    h('span', { class: 'inbox-last', text: t.last_text || '–' }),
    ownerBadge(t),
    t.folder && t.folder !== 'inbox' ? h('span', { class: `badge folder folder-${t.folder}`, text: FOLDERS[t.folder] || t.folder }) : null);
  return h('li', { class: classes.join(' '), 'data-psid': t.psid, 'data-state': t.state, 'data-folder': t.folder || 'inbox' }, link);
}

/** Who has the thread, as a badge: waiting, an agent, a bot, or nobody. */
function ownerBadge(t) {
  switch (t.state) {
    case 'waiting':
      return h('span', { class: 'badge owner state-waiting', text: 'Waiting for an agent' });
    case 'agent':
      return h('span', { class: 'badge owner state-agent', text: agentName(t.agent) });
    case 'bot':
      return h('span', { class: 'badge owner state-bot', text: `Bot${t.owner ? `: ${t.owner.name}` : ''}` });
    case 'idle':
      return h('span', { class: 'badge owner state-idle', text: 'Idle' });
    default:
      return h('span', { class: 'badge owner', text: t.owner ? t.owner.name : t.state });
  }
}

function agentName(agent) {
  if (!agent) return 'With an agent';
  if (session.person && String(agent.id) === String(session.person.id)) return 'With you';
  return `With ${agent.name}`;
}

/** The line beside the owner's badge: what the state means for the agent. */
function stateText(t) {
  switch (t.state) {
    case 'waiting': return 'The bot passed this conversation to the Page Inbox: take it over to answer.';
    case 'agent': return t.agent && session.person && String(t.agent.id) === String(session.person.id)
      ? 'You answer; the bot stays quiet until you hand the conversation back.'
      : 'An agent answers; the bot stays quiet until the conversation is handed back.';
    case 'bot': return 'The bot answers; take the conversation over to answer yourself.';
    case 'idle': return 'No app answers this conversation.';
    default: return '';
  }
}

/** One thread; `onChange` is called after the agent changed it (the list shows it at once). */
function threadPane(pageId, psid, onChange) {
  const line = statusLine('inbox-status');
  const picture = h('img', { class: 'inbox-picture', alt: '', hidden: true, width: 48, height: 48 });
  const name = h('h2', { id: 'inbox-thread-heading', text: 'Conversation' });
  const stateBadge = h('span', { class: 'badge owner', id: 'inbox-owner' });
  const stateLine = h('span', { id: 'inbox-state-text' });
  const state = h('p', { id: 'inbox-state', class: 'inbox-state' }, stateBadge, ' ', stateLine);
  const take = h('button', { type: 'button', id: 'inbox-take', text: 'Take over', hidden: true });
  const handBack = h('button', { type: 'button', id: 'inbox-hand-back', class: 'secondary', text: 'Hand back to bot', hidden: true });
  const folderBadge = h('span', { class: 'badge folder', id: 'inbox-folder' });
  const toDone = h('button', { type: 'button', id: 'inbox-done', class: 'secondary', text: 'Mark as done', hidden: true });
  const toSpam = h('button', { type: 'button', id: 'inbox-spam', class: 'secondary', text: 'Move to spam', hidden: true });
  const toInbox = h('button', { type: 'button', id: 'inbox-to-inbox', class: 'secondary', text: 'Move to inbox', hidden: true });
  const messages = h('ol', { id: 'inbox-messages', class: 'inbox-messages', 'aria-label': 'Messages', tabindex: '0' });
  const text = h('input', { id: 'inbox-text', name: 'text', autocomplete: 'off', maxlength: 2000, disabled: true });
  const send = h('button', { type: 'submit', id: 'inbox-send', text: 'Send', disabled: true });
  const cannot = h('p', { id: 'inbox-cannot-send', class: 'hint', hidden: true });
  const form = h('form', { id: 'inbox-form', class: 'inbox-composer' }, field('Your answer', text), send);
  let current = null;
  let busy = false;

  const show = (t) => {
    current = t;
    replace(name, t.name || t.psid);
    if (t.profile_pic) {
      if (picture.getAttribute('src') !== t.profile_pic) picture.src = t.profile_pic;
      picture.hidden = false;
    } else {
      picture.hidden = true;
    }
    const badge = ownerBadge(t);
    stateBadge.className = badge.className;
    stateBadge.textContent = badge.textContent;
    state.dataset.state = t.state;
    stateLine.textContent = stateText(t);
    take.hidden = t.state === 'agent';
    handBack.hidden = !(t.state === 'agent' || t.state === 'waiting');
    const folder = t.folder || 'inbox';
    folderBadge.textContent = FOLDERS[folder] || folder;
    folderBadge.className = `badge folder folder-${folder}`;
    folderBadge.dataset.folder = folder;
    toDone.hidden = folder === 'page_done';
    toSpam.hidden = folder === 'spam';
    toInbox.hidden = folder === 'inbox';
    showComposer();
    cannot.textContent = t.can_send ? '' : (t.cannot_send_reason || 'You cannot answer this conversation now.');
    cannot.hidden = t.can_send;
    showMessages(t);
  };

  const showComposer = () => {
    const canSend = Boolean(current && current.can_send);
    text.disabled = !canSend;
    send.disabled = !canSend || busy;
  };

  const showMessages = (t) => {
    const list = t.messages || [];
    if (!changed(messages, list)) return;
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    const first = !messages.childElementCount;
    if (!list.length) replace(messages, h('li', { class: 'empty', text: 'No messages yet.' }));
    else replace(messages, list.map((m) => messageItem(t, m)));
    if (first || atBottom) messages.scrollTop = messages.scrollHeight;
  };

  const load = async () => {
    try {
      show(await session.api.inboxThread(pageId, psid));
    } catch (error) {
      shown.delete(messages);
      if (!busy) say(line, `This conversation cannot be shown: ${describe(error)}`, 'error');
    }
  };

  take.addEventListener('click', () => act(take, line, async () => {
    show(await session.api.takeThread(pageId, psid));
    say(line, 'You took over the conversation: the bot stays quiet.');
    onChange();
    text.focus();
  }));
  handBack.addEventListener('click', () => act(handBack, line, async () => {
    show(await session.api.handBack(pageId, psid));
    say(line, 'Handed back to the bot.');
    onChange();
  }));
  const fileIn = (button, folder, done) => button.addEventListener('click', () => act(button, line, async () => {
    show(await session.api.setFolder(pageId, psid, folder));
    say(line, done);
    onChange();
  }));
  fileIn(toDone, 'page_done', 'Marked as done: a new message from this person brings it back to the inbox.');
  fileIn(toSpam, 'spam', 'Moved to spam.');
  fileIn(toInbox, 'inbox', 'Moved to the inbox.');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = text.value.trim();
    if (!body) return say(line, 'Write a message first.', 'error');
    busy = true;
    const sent = await act(send, line, async () => {
      await session.api.inboxSend(pageId, psid, body);
      return true;
    });
    busy = false;
    if (sent) {
      text.value = '';
      say(line, '');
      await Promise.all([load(), onChange()]);
      text.focus();
    }
    showComposer();
  });

  const node = h('section', { class: 'panel inbox-thread-pane', id: 'inbox-thread', 'aria-labelledby': 'inbox-thread-heading' },
    h('div', { class: 'inbox-person' }, picture, name),
    state,
    h('p', { class: 'inbox-folder-line' }, 'Folder: ', folderBadge),
    h('div', { class: 'toolbar inbox-actions' }, take, handBack, toDone, toSpam, toInbox),
    line,
    messages,
    form,
    cannot);
  return { node, load };
}

/** One message of the history: the person's on one side, the Page's on the other. */
function messageItem(t, m) {
  const from = m.from === 'person' ? 'person' : 'page';
  const who = from === 'person' ? (t.name || 'Person') : pageSender(m);
  return h('li', { class: `inbox-message from-${from}`, 'data-from': from, 'data-mid': m.mid || null },
    h('span', { class: 'inbox-sender', text: who }),
    h('span', { class: 'inbox-bubble', text: messageText(m) }),
    m.edits ? h('span', { class: 'inbox-edited', title: `Edited ${m.edits} time${m.edits === 1 ? '' : 's'}`, text: 'Edited' }) : null,
    m.feedback ? h('span', { class: 'inbox-feedback', text: m.feedback === 'good' ? 'Rated 👍 good' : 'Rated 👎 bad' }) : null,
    h('time', { class: 'inbox-time', datetime: new Date(m.created_at).toISOString(), text: shortTime(m.created_at), title: formatTime(m.created_at) }));
}

/** Who spoke for the Page: an agent through the Page Inbox, or a bot app by name. */
function pageSender(m) {
  if (!m.app) return 'Page';
  if (m.app.id === PAGE_INBOX_APP) return m.agent && m.agent.name ? `Agent ${m.agent.name} · Page Inbox` : 'Agent · Page Inbox';
  return m.app.name;
}

/** A message's text, or a short label for what cannot be shown here. */
function messageText(m) {
  if (m.text) return m.text;
  const attachments = m.attachment ? [m.attachment] : (m.attachments || []);
  if (attachments.length) {
    return attachments.map((a) => {
      if (!a) return '[attachment]';
      if (a.type === 'template') return '[template]';
      return `[${a.type || 'attachment'}]`;
    }).join(' ');
  }
  if (m.sticker_id) return '[sticker]';
  return '[message]';
}

/** Today's times as hours and minutes; older ones with their date. */
function shortTime(ms) {
  if (ms === null || ms === undefined) return '–';
  const date = new Date(ms);
  const now = new Date();
  if (date.toDateString() === now.toDateString()) return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}
