// The console page: lists users page by page, creates, edits with the etag, and deletes.
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { CallOptions } from "@connectrpc/connect";
import { type User, UserSchema } from "../../gen/ts/user/v1/user_pb.js";
import { describeError, usersClient, withToken } from "./api.js";
import { renderUsers } from "./table.js";

const TOKEN_KEY = "usersuite.token";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function field(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement).value.trim();
}

const client = usersClient();
const tokenInput = element<HTMLInputElement>("token");
const statusLine = element<HTMLParagraphElement>("status");
const errorBox = element<HTMLDivElement>("error");
const usersBody = element<HTMLTableElement>("users").tBodies[0];
const nextButton = element<HTMLButtonElement>("next-page");
const pageSize = element<HTMLSelectElement>("page-size");
const editSection = element<HTMLElement>("edit-section");
const editForm = element<HTMLFormElement>("edit");

// The page being shown (its token; "" is the first) and the one after it ("" when none).
let pageToken = "";
let nextPageToken = "";
// The user being edited as it was loaded: its etag guards the save against a change since.
let editing: User | undefined;

function report(done: string): void {
  errorBox.hidden = true;
  statusLine.textContent = done;
}

function fail(error: unknown): void {
  statusLine.textContent = "";
  const lines = describeError(error).map((text) => {
    const p = document.createElement("p");
    p.textContent = text;
    return p;
  });
  errorBox.replaceChildren(...lines);
  errorBox.hidden = false;
}

/** Runs one call with the page's token; its failure is shown, never thrown. */
async function attempt(run: (options: CallOptions) => Promise<void>): Promise<void> {
  try {
    await run(withToken(tokenInput.value.trim()));
  } catch (error) {
    fail(error);
  }
}

/** Shows the page that `token` starts; returns what it holds, in words. */
async function showPage(token: string, options: CallOptions): Promise<string> {
  const page = await client.listUsers({ pageSize: Number(pageSize.value), pageToken: token }, options);
  pageToken = token;
  nextPageToken = page.nextPageToken;
  renderUsers(usersBody, page.users, { edit: startEdit, remove: removeUser });
  nextButton.disabled = !nextPageToken;
  return `${page.users.length} users on this page${nextPageToken ? "; more on the next" : ""}.`;
}

async function loadPage(token: string): Promise<void> {
  await attempt(async (options) => report(await showPage(token, options)));
}

function startEdit(user: User): void {
  editing = user;
  element("edit-name").textContent = user.name;
  (editForm.elements.namedItem("display_name") as HTMLInputElement).value = user.displayName;
  (editForm.elements.namedItem("email") as HTMLInputElement).value = user.email;
  (editForm.elements.namedItem("etag") as HTMLInputElement).value = user.etag;
  editSection.hidden = false;
  element<HTMLInputElement>("edit-display-name").focus();
}

function stopEdit(): void {
  editing = undefined;
  editSection.hidden = true;
}

async function removeUser(user: User): Promise<void> {
  await attempt(async (options) => {
    await client.deleteUser({ name: user.name, etag: user.etag }, options);
    if (editing?.name === user.name) stopEdit();
    await showPage(pageToken, options);
    report(`Deleted ${user.name}.`);
  });
}

element<HTMLFormElement>("auth").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
  void loadPage("");
});

element<HTMLFormElement>("create").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void attempt(async (options) => {
    const user = await client.createUser(
      {
        user: create(UserSchema, { displayName: field(form, "display_name"), email: field(form, "email") }),
        userId: field(form, "user_id"),
        // A retried create (a lost answer) returns the first call's user instead of a second one.
        requestId: crypto.randomUUID(),
      },
      options,
    );
    form.reset();
    await showPage(pageToken, options);
    report(`Created ${user.name}.`);
  });
});

editForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const loaded = editing;
  if (!loaded) return;
  void attempt(async (options) => {
    const user = await client.updateUser(
      {
        user: create(UserSchema, {
          name: loaded.name,
          displayName: field(editForm, "display_name"),
          email: field(editForm, "email"),
          etag: loaded.etag,
        }),
        updateMask: create(FieldMaskSchema, { paths: ["display_name", "email"] }),
      },
      options,
    );
    stopEdit();
    await showPage(pageToken, options);
    report(`Saved ${user.name}.`);
  });
});

element("edit-cancel").addEventListener("click", stopEdit);
element("first-page").addEventListener("click", () => void loadPage(""));
nextButton.addEventListener("click", () => void loadPage(nextPageToken));
pageSize.addEventListener("change", () => void loadPage(""));

tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? "";
void loadPage("");
