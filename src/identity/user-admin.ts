// `airlock users` operations on users.yaml: add, rotate, remove, list; each issues tokens and stores only verifiers.
import { existsSync } from 'node:fs';
import { Document, isMap, isSeq, YAMLSeq } from 'yaml';
import type { UserRecord } from './types.js';
import { AirlockError } from '../errors.js';
import { readUsersFile, writeFileAtomic, type UsersFile } from './users-file.js';
import { cachingSha2Verifier, generateToken, mysqlNativeVerifier, scramVerifier } from './verifiers.js';

export interface NewUser {
  readonly email: string;
  readonly groups: readonly string[];
  readonly slack_id?: string;
  readonly name?: string;
}

export interface IssuedToken {
  readonly record: UserRecord;
  /** Shown to the operator once; nothing keeps it. */
  readonly token: string;
}

const HEADER = ' airlock users: managed by `airlock users add|rotate|remove`.\n Holds verifiers only (SCRAM-SHA-256, mysql_native_password, caching_sha2_password), never tokens.';
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const SLACK_ID = /^[UW][A-Z0-9]+$/;
const GROUP = /^\S+$/;

/** Creates the user with a fresh token. The file is created (mode 0600) when missing. */
export function addUser(file: string, user: NewUser, now: Date = new Date()): IssuedToken {
  checkNewUser(user);
  const existing = existsSync(file) ? readUsersFile(file) : undefined;
  if (existing && findIndex(existing, user.email) >= 0) {
    throw new AirlockError('AIRLOCK_ERR_CONFLICT', `user ${user.email} already exists in ${file} (use \`airlock users rotate\` for a new token)`);
  }
  const clash = existing?.records.find((r) => user.slack_id !== undefined && r.slack_id === user.slack_id);
  if (clash) throw new AirlockError('AIRLOCK_ERR_CONFLICT', `slack id ${user.slack_id} already belongs to ${clash.email}`);

  const token = generateToken();
  const record: UserRecord = {
    email: user.email,
    ...(user.name !== undefined ? { name: user.name } : {}),
    groups: [...user.groups],
    ...(user.slack_id !== undefined ? { slack_id: user.slack_id } : {}),
    ...verifiersFor(token),
    created_at: now.toISOString(),
  };
  const doc = existing?.source.doc ?? newDocument();
  let list = doc.get('users');
  if (!isSeq(list)) {
    list = new YAMLSeq();
    doc.set('users', list);
  }
  const node = doc.createNode(record);
  const groups = node.get('groups');
  if (isSeq(groups)) groups.flow = true;
  (list as YAMLSeq).add(node);
  writeFileAtomic(file, doc.toString());
  return { record, token };
}

/** Issues a new token for an existing user and replaces the three verifiers; the old token stops working. */
export function rotateUser(file: string, email: string, now: Date = new Date()): IssuedToken {
  const users = readUsersFile(file);
  const i = mustFind(users, email, file);
  const token = generateToken();
  const fresh = { ...verifiersFor(token), rotated_at: now.toISOString() };
  const item = users.source.doc.getIn(['users', i]);
  if (!isMap(item)) throw new AirlockError('AIRLOCK_ERR_USERS', `${file}: users[${i}] is not a mapping`);
  for (const [key, value] of Object.entries(fresh)) item.set(key, users.source.doc.createNode(value));
  writeFileAtomic(file, users.source.doc.toString());
  return { record: { ...users.records[i]!, ...fresh }, token };
}

/** Removes the user; returns what was removed. */
export function removeUser(file: string, email: string): UserRecord {
  const users = readUsersFile(file);
  const i = mustFind(users, email, file);
  users.source.doc.deleteIn(['users', i]);
  writeFileAtomic(file, users.source.doc.toString());
  return users.records[i]!;
}

export function listUsers(file: string): readonly UserRecord[] {
  return readUsersFile(file).records;
}

function verifiersFor(token: string): Pick<UserRecord, 'scram' | 'mysql_native' | 'caching_sha2'> {
  return { scram: scramVerifier(token), mysql_native: mysqlNativeVerifier(token), caching_sha2: cachingSha2Verifier(token) };
}

function newDocument(): Document {
  const doc = new Document({ users: [] });
  doc.commentBefore = HEADER;
  return doc;
}

function findIndex(users: UsersFile, email: string): number {
  const wanted = email.toLowerCase();
  return users.records.findIndex((r) => r.email.toLowerCase() === wanted);
}

function mustFind(users: UsersFile, email: string, file: string): number {
  const i = findIndex(users, email);
  if (i < 0) throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no user ${email} in ${file}`);
  return i;
}

function checkNewUser(user: NewUser): void {
  const problems: string[] = [];
  if (!EMAIL.test(user.email)) problems.push(`"${user.email}" is not an email address`);
  if (user.groups.length === 0) problems.push('at least one group is required (--groups a,b)');
  for (const g of user.groups) if (!GROUP.test(g)) problems.push(`group "${g}" must be a non-empty word without spaces`);
  if (user.slack_id !== undefined && !SLACK_ID.test(user.slack_id)) problems.push(`slack id "${user.slack_id}" must look like U012AB3CD`);
  if (user.name !== undefined && user.name.trim() === '') problems.push('name must not be empty');
  if (problems.length) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', problems.join('; '));
}
