// The clienteling page: finds one customer through /graphql with the associate's key and shows them on
// one screen. No framework: DOM calls only, every value written as text (never as HTML).

const KEY_STORAGE = "customer-graph.apiKey";
const TIMELINE_PAGE = 10;
const SYNTHETIC = "SYN-";
const HIDDEN = "hidden for your role";
const CHANNELS = ["EMAIL", "SMS", "PUSH", "PHONE"];
const CHANNEL_NAMES = { EMAIL: "E-mail", SMS: "SMS", PUSH: "Push", PHONE: "Phone" };

const PROFILE = `query Profile($id: ID, $identity: IdentityInput) {
  customer(id: $id, identity: $identity) {
    id name city loyaltyTier createdAt erasedAt churnRisk pAlive expectedPurchases90d rfmSegment rfmScore
    identities { type lastSeen value }
    consents { channel purpose granted updatedAt }
    segments { id kind name }
    homeStore { id name city }
    notes(first: 20) { id createdAt text }
    ${CHANNELS.map((c) => `${c.toLowerCase()}: contactable(channel: ${c})`).join(" ")}
    recommendations(first: 6) { score explanation sources product { sku name price } }
    similarShoppers(first: 10) { score }
    nearbyStores(first: 3) { distanceKm store { id name city } }
  }
}`;

const TIMELINE = `query Timeline($id: ID!, $after: String) {
  customer(id: $id) {
    engagementHistory(first: ${TIMELINE_PAGE}, after: $after) {
      edges { cursor node { type id at channel
        ... on SessionEntry { device endedAt store { name } events(first: 5) { type query product { name } } }
        ... on OrderEntry { total currency cancelled store { name } lines { quantity product { sku name } } }
        ... on VisitEntry { dwellMinutes source zones store { name } }
        ... on MessageEntry { subject campaign offerId }
        ... on ResponseEntry { response messageId text }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

const KEEP = `query Keep($store: ID!) {
  keepInTouch(storeId: $store, first: 20) { customer { id name churnRisk } pastValue lastOrderAt contactableOn }
}`;

const NOTES = `query Notes($id: ID!) { customer(id: $id) { notes(first: 20) { id createdAt text } } }`;
const ADD_NOTE = `mutation AddNote($id: ID!, $text: String!) { addNote(customerId: $id, text: $text) { id } }`;

// The API's error codes in plain words (the code itself is shown after them, for the help desk).
const PLAIN = {
  NOT_FOUND: "No customer with that id.",
  UNAUTHENTICATED: "Check your key: the API did not accept it.",
  FORBIDDEN: "Your key's role may not see this.",
  BAD_USER_INPUT: "Check what you entered.",
  SERVICE_UNAVAILABLE: "The customer graph is unavailable just now; try again shortly.",
  QUERY_TIMEOUT: "The customer graph took too long to answer; try again.",
  QUERY_TOO_COMPLEX: "The page asked for too much at once.",
  QUERY_TOO_DEEP: "The page asked for too much at once.",
  NETWORK: "The API cannot be reached; check the connection.",
};

// Recommendation sources in words; PERSONAL and CONTEXT_SESSION use the customer's own history.
const SOURCES = {
  BUY_AGAIN: "what they buy regularly and are due for again",
  PERSONAL: "their own purchases and browsing",
  CONTEXT_PRODUCT: "the product in front of them",
  CONTEXT_SESSION: "what they browsed this visit",
  CONTEXT_STORE: "what sells at this store",
  SEGMENT_POPULAR: "popular with shoppers like them",
  STORE_POPULAR: "popular at their home store",
  TRENDING: "trending now",
};
const PERSONAL_SOURCES = new Set(["BUY_AGAIN", "PERSONAL", "CONTEXT_SESSION"]);

const $ = (id) => document.getElementById(id);
const state = { id: null, cursor: null, synthetic: false };

class ApiFailure extends Error {
  constructor(code, lookup) {
    super(code);
    this.code = code;
    this.lookup = lookup;
  }
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function tag(text, kind) {
  return el("span", { class: `tag ${kind}` }, text);
}

function synthetic(value) {
  const is = typeof value === "string" && (value.startsWith(SYNTHETIC) || value.endsWith("(synthetic)"));
  if (is) state.synthetic = true;
  return is ? tag("synthetic", "synthetic") : null;
}

function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return el("time", { datetime: iso }, date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }));
}

function money(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency: currency || "GBP" }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency || ""}`.trim();
  }
}

function capital(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function percent(value) {
  return value === null || value === undefined ? "not computed" : `${Math.round(value * 100)} %`;
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

// One request to /graphql: the body ({data, errors}); a request-level failure throws ApiFailure.
async function graphql(query, variables) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json",
                 "X-API-Key": apiKey() || "" },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiFailure("NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiFailure(`HTTP_${response.status}`);
  }
  if (!body.data) throw new ApiFailure(body.errors?.[0]?.extensions?.code || `HTTP_${response.status}`);
  return body;
}

// The field errors of a response by path ("customer.name"), so each field can say why it is empty.
function fieldErrors(body) {
  const errors = new Map();
  for (const error of body.errors || []) {
    if (error.path) errors.set(error.path.join("."), error.extensions?.code || "INTERNAL_SERVER_ERROR");
  }
  return errors;
}

function describe(code, lookup) {
  if (code === "NOT_FOUND" && lookup === "identity") return "No customer with that identifier.";
  if (code === "NOT_FOUND" && lookup === "store") return "No store with that id.";
  if (code === "FORBIDDEN" && lookup === "name") return "Searching by name needs an admin key (names are personal data).";
  return PLAIN[code] || "Something went wrong.";
}

function showMessage(text, code) {
  const message = $("message");
  message.replaceChildren(text, code ? el("span", { class: "code" }, ` (${code})`) : "");
  message.hidden = false;
  message.focus();
}

function personal(value, errors, path) {
  if (errors.get(path) === "FORBIDDEN") return el("span", { class: "withheld" }, HIDDEN);
  if (errors.has(path)) return el("span", { class: "withheld" }, describe(errors.get(path)));
  return value === null || value === undefined ? "—" : value;
}

function definitions(target, rows) {
  target.replaceChildren(...rows.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

function list(target, items, empty) {
  target.replaceChildren(...(items.length ? items : [el("li", { class: "hint" }, empty)]));
}

function renderIdentity(customer, errors) {
  definitions($("identity"), [
    ["Customer id", [customer.id, synthetic(customer.id)]],
    ["Name", personal(customer.name, errors, "customer.name")],
    ["Loyalty tier", customer.loyaltyTier || "—"],
    ["City", customer.city || "—"],
    ["Customer since", when(customer.createdAt)],
  ]);
  list($("identifiers"), customer.identities.map((identity, i) => el("li", {},
    el("strong", {}, identity.type.replace("_", " ")), ": ",
    personal(identity.value, errors, `customer.identities.${i}.value`), synthetic(identity.value),
    identity.lastSeen ? [" · last seen ", when(identity.lastSeen)] : null)), "No identifiers.");
}

function renderRelationship(customer) {
  const risk = customer.churnRisk;
  const drifting = risk === null || risk === undefined ? null
    : risk >= 0.5 ? tag("drifting away", "risk") : tag("active", "ok");
  definitions($("relationship"), [
    ["Churn risk", [percent(risk), " ", drifting]],
    ["Chance they are still a customer (pAlive)", percent(customer.pAlive)],
    ["Expected purchases, next 90 days", customer.expectedPurchases90d === null
      ? "not computed" : customer.expectedPurchases90d.toFixed(1)],
    ["RFM segment", customer.rfmSegment ? `${customer.rfmSegment} (${customer.rfmScore || "—"})` : "—"],
    ["Home store", customer.homeStore
      ? `${customer.homeStore.name}${customer.homeStore.city ? `, ${customer.homeStore.city}` : ""}` : "—"],
  ]);
  list($("segments"), customer.segments.map((segment) => el("li", {}, segment.name, " ",
    el("span", { class: "hint" }, `(${segment.kind})`))), "In no segment of the current run.");
}

function renderContact(customer) {
  list($("contactable"), CHANNELS.map((channel) => {
    const yes = customer[channel.toLowerCase()];
    return el("li", {}, `${CHANNEL_NAMES[channel]}: `,
      yes ? tag("yes", "ok") : tag("no", "no"));
  }), "");
  list($("consents"), customer.consents.map((consent) => el("li", {},
    `${consent.purpose} on ${consent.channel}: `, consent.granted ? tag("granted", "ok") : tag("withdrawn", "no"),
    consent.updatedAt ? [" · ", when(consent.updatedAt)] : null)),
  "No consent recorded: the policy's defaults apply.");
}

function renderAround(customer) {
  const similar = customer.similarShoppers.length;
  $("similar").textContent = similar
    ? `${similar >= 10 ? "10 or more" : similar} similar shopper${similar === 1 ? "" : "s"}.`
    : "No similar shoppers listed.";
  list($("nearby"), customer.nearbyStores.map((near) => el("li", {},
    `${near.store.name}${near.store.city ? `, ${near.store.city}` : ""} · ${near.distanceKm.toFixed(1)} km`)),
  "None shown (needs an admin key and the customer's location consent).");
}

function renderRecommendations(customer, errors) {
  const withdrawn = customer.consents.some((c) => c.purpose === "personalisation" && !c.granted);
  const recommendations = customer.recommendations || [];
  const allNonPersonal = recommendations.every((r) => !r.sources.some((s) => PERSONAL_SOURCES.has(s)));
  const note = $("recommendations-note");
  note.hidden = !(withdrawn || (recommendations.length && allNonPersonal));
  note.textContent = withdrawn
    ? "This customer withdrew personalisation: these suggestions are non-personal (not based on their "
      + "history), as the API returns them."
    : "No personal recommendations yet: these suggestions are non-personal.";
  if (errors.has("customer.recommendations")) {
    list($("recommendations"), [], describe(errors.get("customer.recommendations")));
    return;
  }
  list($("recommendations"), recommendations.map((r) => {
    const personalised = r.sources.some((s) => PERSONAL_SOURCES.has(s));
    return el("li", { class: "card" },
      el("h4", {}, r.product.name || r.product.sku, " ",
        r.sources.includes("BUY_AGAIN") ? tag("due again", "ok")
          : personalised ? tag("personal", "ok") : tag("non-personal", "neutral")),
      el("p", { class: "hint" }, `${r.product.sku} · ${money(r.product.price)}`),
      el("p", { class: "why" }, r.explanation),
      el("p", { class: "sources" }, "Based on: ", r.sources.map((s) => SOURCES[s] || s.toLowerCase()).join("; ")));
  }), "No recommendations.");
}

function entryText(node, errors, path) {
  const place = node.store ? ` at ${node.store.name}` : "";
  switch (node.type) {
    case "SESSION": {
      const minutes = node.endedAt ? Math.round((new Date(node.endedAt) - new Date(node.at)) / 60000) : null;
      const events = (node.events || []).map((e) => e.product?.name
        ? `${e.type.replaceAll("_", " ")} ${e.product.name}` : e.query ? `searched “${e.query}”` : e.type.replaceAll("_", " "));
      return [`${capital(node.channel || "")} session${place}${node.device ? ` on ${node.device}` : ""}`
        + `${minutes !== null ? `, ${minutes} min` : ""}`, events.length ? `: ${events.join(", ")}` : ""];
    }
    case "ORDER": {
      const items = node.lines.map((l) => `${l.quantity} × ${l.product.name || l.product.sku}`).join(", ");
      return [`Order ${node.id}${place}: ${money(node.total, node.currency)}`, items ? ` (${items})` : "",
        node.cancelled ? [" ", tag("cancelled", "no")] : null];
    }
    case "VISIT":
      return [`Visit${place}`, node.dwellMinutes ? `, ${Math.round(node.dwellMinutes)} min` : "",
        node.zones?.length ? ` in ${node.zones.join(", ")}` : "", node.source ? ` (${node.source.replaceAll("_", " ")})` : ""];
    case "MESSAGE":
      return [`Message by ${node.channel || "?"}: “${node.subject || "no subject"}”`,
        node.campaign ? [` (campaign ${node.campaign}`, synthetic(node.campaign), ")"] : "",
        node.offerId ? ` with offer ${node.offerId}` : ""];
    case "RESPONSE":
      return [`${capital(node.response)} message ${node.messageId}`,
        node.response === "replied" ? [": ", personal(node.text, errors, `${path}.text`)] : ""];
    default:
      return [node.type.toLowerCase()];
  }
}

function renderNotes(notes, errors) {
  list($("notes"), notes.map((note, i) => el("li", {}, when(note.createdAt), ": ",
    personal(note.text, errors, `customer.notes.${i}.text`))), "No notes yet.");
}

async function addNote(event) {
  event.preventDefault();
  const status = $("note-status");
  status.textContent = "Saving…";
  try {
    const body = await graphql(ADD_NOTE, { id: state.id, text: $("note-text").value });
    if (!body.data.addNote) {
      const code = body.errors?.[0]?.extensions?.code;
      status.textContent = code === "FORBIDDEN" ? "Your key's role may not write notes: it needs a writer key."
        : `${describe(code)} (${code})`;
      return;
    }
    $("note-text").value = "";
    const notes = await graphql(NOTES, { id: state.id });
    renderNotes(notes.data.customer?.notes || [], fieldErrors(notes));
    status.textContent = "Note added.";
  } catch (failure) {
    status.textContent = `${describe(failure.code)} (${failure.code})`;
  }
}

function renderTimeline(connection, errors, offset) {
  const items = connection.edges.map((edge, i) => {
    const path = `customer.engagementHistory.edges.${i}.node`;
    return el("li", { class: `entry ${edge.node.type.toLowerCase()}`, tabindex: "-1" },
      el("p", { class: "when" }, when(edge.node.at), " ", tag(edge.node.type.toLowerCase(), "kind"),
        synthetic(edge.node.id)),
      el("p", {}, entryText(edge.node, errors, path)));
  });
  if (offset === 0) $("timeline").replaceChildren(...items);
  else $("timeline").append(...items);
  if (offset === 0 && !items.length) $("timeline").append(el("li", { class: "hint" }, "Nothing yet."));
  state.cursor = connection.pageInfo.endCursor;
  $("more").hidden = !connection.pageInfo.hasNextPage;
  $("timeline-end").hidden = connection.pageInfo.hasNextPage || offset === 0;
  $("synthetic-note").hidden = !state.synthetic;
  return items[0];
}

async function loadTimeline(after) {
  const body = await graphql(TIMELINE, { id: state.id, after });
  const connection = body.data.customer?.engagementHistory;
  if (!connection) throw new ApiFailure(body.errors?.[0]?.extensions?.code || "INTERNAL_SERVER_ERROR");
  return renderTimeline(connection, fieldErrors(body), after ? $("timeline").children.length : 0);
}

const SEARCH = `query Search($name: String!) { customerSearch(name: $name, first: 10) { id name city } }`;

function find(event) {
  event.preventDefault();
  $("matches").hidden = true;
  const by = $("lookup-by").value;
  const value = $("lookup-value").value.trim();
  return by === "name" ? searchByName(value) : lookUp(value, by);
}

// Every request needs a key: without one, say so and put the cursor where it goes.
function keyMissing() {
  if (apiKey()) return false;
  showMessage("Enter your API key first.");
  $("api-key").focus();
  return true;
}

// Names are personal data: the API answers FORBIDDEN unless the key is an admin's.
async function searchByName(name) {
  if (keyMissing()) return;
  $("message").hidden = true;
  $("loading").textContent = "Searching…";
  try {
    const body = await graphql(SEARCH, { name }).catch((failure) => {
      failure.lookup = "name";
      throw failure;
    });
    const found = body.data.customerSearch;
    if (!found) {
      const code = body.errors?.[0]?.extensions?.code || "NOT_FOUND";
      throw new ApiFailure(code, "name");
    }
    if (found.length === 1) return lookUp(found[0].id);
    list($("matches"), found.map((customer) => {
      const open = el("button", { type: "button", class: "link" }, customer.name || `Customer ${customer.id}`);
      open.addEventListener("click", () => lookUp(customer.id));
      return el("li", {}, open, ` · ${customer.id}${customer.city ? ` · ${customer.city}` : ""}`);
    }), "No customer with that name.");
    $("matches").hidden = false;
    $("loading").textContent = `${found.length} customers with that name.`;
    $("matches").focus();
  } catch (failure) {
    $("loading").textContent = "";
    showMessage(describe(failure.code, failure.lookup), failure.code);
  }
}

async function lookUp(value, by = "id") {
  const lookup = by === "id" ? "id" : "identity";
  if (keyMissing()) return;
  $("message").hidden = true;
  $("profile").hidden = true;  // never a mix of the previous answer and this one
  $("loading").textContent = "Looking up…";
  try {
    const variables = lookup === "id" ? { id: value } : { identity: { type: by, value } };
    const body = await graphql(PROFILE, variables).catch((failure) => {
      failure.lookup = lookup;
      throw failure;
    });
    const customer = body.data.customer;
    if (!customer) throw new ApiFailure(body.errors?.[0]?.extensions?.code || "NOT_FOUND", lookup);
    const errors = fieldErrors(body);
    state.id = customer.id;
    state.synthetic = false;
    $("profile-heading").replaceChildren(`Customer ${customer.id}`,
      ...(customer.erasedAt ? [" ", tag("erased", "no")] : []));
    renderIdentity(customer, errors);
    renderRelationship(customer);
    renderContact(customer);
    renderAround(customer);
    renderNotes(customer.notes, errors);
    $("note-status").textContent = "";
    renderRecommendations(customer, errors);
    await loadTimeline(null);
    $("profile").hidden = false;
    $("loading").textContent = `Showing customer ${customer.id}.`;
    $("profile-heading").focus();
  } catch (failure) {
    $("loading").textContent = "";
    $("profile").hidden = true;
    showMessage(describe(failure.code, failure.lookup), failure.code);
  }
}

async function more() {
  $("loading").textContent = "Loading more…";
  try {
    const first = await loadTimeline(state.cursor);
    $("loading").textContent = "More of the timeline loaded.";
    (first || $("more")).focus();
  } catch (failure) {
    $("loading").textContent = "";
    showMessage(describe(failure.code), failure.code);
  }
}

function renderKeep(rows, errors) {
  list($("keep"), rows.map((row, i) => {
    const open = el("button", { type: "button", class: "link" }, `Customer ${row.customer.id}`);
    open.addEventListener("click", () => lookUp(row.customer.id));
    const channels = row.contactableOn.map((c) => CHANNEL_NAMES[c] || capital(c.toLowerCase()));
    return el("li", {}, open, " ", synthetic(row.customer.id),
      el("span", {}, " · ", personal(row.customer.name, errors, `keepInTouch.${i}.customer.name`)),
      el("p", {}, `Churn risk ${percent(row.customer.churnRisk)} · past value ${money(row.pastValue)}`
        + " · last order ", when(row.lastOrderAt)),
      el("p", {}, channels.length ? `Reach them by: ${channels.join(", ")}`
        : "No marketing consent: talk to them when they come in."));
  }), "Nobody at risk at this store.");
  $("keep").hidden = false;
}

async function keepInTouch(event) {
  event.preventDefault();
  if (keyMissing()) return;
  $("message").hidden = true;
  $("loading").textContent = "Listing…";
  try {
    const body = await graphql(KEEP, { store: $("keep-store").value.trim() });
    if (!body.data.keepInTouch) throw new ApiFailure(body.errors?.[0]?.extensions?.code || "NOT_FOUND");
    renderKeep(body.data.keepInTouch, fieldErrors(body));
    $("loading").textContent = `${body.data.keepInTouch.length} customers to keep in touch with.`;
    $("keep").focus();
  } catch (failure) {
    $("loading").textContent = "";
    $("keep").hidden = true;
    showMessage(describe(failure.code, "store"), failure.code);
  }
}

function showKeyStatus() {
  const set = Boolean(apiKey());
  $("forget-key").hidden = !set;
  $("key-status").textContent = set
    ? "A key is set for this browser tab. Enter another to replace it."
    : "Enter your key once: it is kept for this browser tab only.";
}

function useKey(event) {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
  $("api-key").value = "";
  $("api-key").required = false;
  showKeyStatus();
  $("lookup-value").focus();
}

function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
  $("api-key").required = true;
  $("profile").hidden = true;
  showKeyStatus();
  $("api-key").focus();
}

$("key-form").addEventListener("submit", useKey);
$("forget-key").addEventListener("click", forgetKey);
$("find-form").addEventListener("submit", find);
$("more").addEventListener("click", more);
$("keep-form").addEventListener("submit", keepInTouch);
$("note-form").addEventListener("submit", addNote);
$("api-key").required = !apiKey();
showKeyStatus();
