// `airlock users add|rotate|list|remove`: manage people in users.yaml; tokens are printed once and never stored.
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import type { UserRecord } from '../../identity/types.js';
import { addUser, listUsers, removeUser, rotateUser } from '../../identity/user-admin.js';
import { describeError, emit, type CommandOutcome } from './config.js';

export interface UsersFileOptions {
  /** users.yaml; default: the users file of --config, else ./users.yaml. */
  readonly users?: string;
  readonly config?: string;
}

function usersFile(opts: UsersFileOptions): string {
  if (opts.users) return opts.users;
  return opts.config ? loadConfig(opts.config).users : './users.yaml';
}

async function run(opts: UsersFileOptions, body: (file: string) => CommandOutcome): Promise<CommandOutcome> {
  let file = opts.users ?? opts.config ?? './users.yaml';
  try {
    file = usersFile(opts);
    return body(file);
  } catch (err) {
    return { exitCode: 1, stdout: '', stderr: `${describeError(file, err)}\n` };
  }
}

function tokenNotice(headline: string, email: string, token: string): string {
  return [
    headline,
    'Token (shown once: airlock keeps only verifiers, so store it now in a password manager):',
    '',
    `  ${token}`,
    '',
    `Use it as the password with user=${email}; the database name is the resource name from the policy.`,
    '',
  ].join('\n');
}

export async function usersAdd(
  email: string,
  opts: UsersFileOptions & { groups: readonly string[]; slackId?: string; name?: string },
): Promise<CommandOutcome> {
  return run(opts, (file) => {
    const { token, record } = addUser(file, {
      email,
      groups: opts.groups,
      ...(opts.slackId !== undefined ? { slack_id: opts.slackId } : {}),
      ...(opts.name !== undefined ? { name: opts.name } : {}),
    });
    const headline = `Added ${record.email} (groups: ${record.groups.join(', ')}) to ${file}.`;
    return { exitCode: 0, stdout: tokenNotice(headline, record.email, token), stderr: '' };
  });
}

export async function usersRotate(email: string, opts: UsersFileOptions = {}): Promise<CommandOutcome> {
  return run(opts, (file) => {
    const { token, record } = rotateUser(file, email);
    return { exitCode: 0, stdout: tokenNotice(`New token for ${record.email} in ${file}.`, record.email, token) + 'The previous token no longer works (sessions already open stay open).\n', stderr: '' };
  });
}

export async function usersRemove(email: string, opts: UsersFileOptions = {}): Promise<CommandOutcome> {
  return run(opts, (file) => {
    const record = removeUser(file, email);
    return { exitCode: 0, stdout: `Removed ${record.email} from ${file}.\n`, stderr: '' };
  });
}

/** Never prints verifiers: they are not secrets like tokens, but offline guessing needs them. */
export async function usersList(opts: UsersFileOptions & { json?: boolean } = {}): Promise<CommandOutcome> {
  return run(opts, (file) => {
    const users = listUsers(file).map(publicView);
    if (opts.json) return { exitCode: 0, stdout: `${JSON.stringify(users, null, 2)}\n`, stderr: '' };
    if (users.length === 0) return { exitCode: 0, stdout: `No users in ${file}.\n`, stderr: '' };
    const rows = [['EMAIL', 'NAME', 'GROUPS', 'SLACK', 'STATUS', 'CREATED', 'ROTATED']];
    for (const u of users) {
      rows.push([u.email, u.name ?? '-', u.groups.join(',') || '-', u.slack_id ?? '-', u.disabled ? 'disabled' : 'active', u.created_at, u.rotated_at ?? '-']);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const text = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
    return { exitCode: 0, stdout: `${text}\n`, stderr: '' };
  });
}

type PublicUser = Pick<UserRecord, 'email' | 'name' | 'groups' | 'slack_id' | 'disabled' | 'created_at' | 'rotated_at'>;

function publicView(r: UserRecord): PublicUser {
  return {
    email: r.email,
    ...(r.name !== undefined ? { name: r.name } : {}),
    groups: r.groups,
    ...(r.slack_id !== undefined ? { slack_id: r.slack_id } : {}),
    disabled: r.disabled ?? false,
    created_at: r.created_at,
    ...(r.rotated_at !== undefined ? { rotated_at: r.rotated_at } : {}),
  };
}

const commaList = (v: string): string[] => v.split(',').map((g) => g.trim()).filter(Boolean);

export function register(program: Command): void {
  const users = program.command('users').description('manage people who may connect (users.yaml)');
  const fileOptions = (c: Command): Command =>
    c.option('--users <file>', 'users file (default: the users file of --config, else ./users.yaml)').option('-c, --config <file>', 'airlock.yaml naming the users file');
  fileOptions(
    users
      .command('add <email>')
      .description('add a person and print their new token once')
      .requiredOption('-g, --groups <list>', 'comma-separated groups, e.g. engineering,dba', commaList)
      .option('--slack-id <id>', 'Slack user id, e.g. U012AB3CD')
      .option('--name <name>', 'display name'),
  ).action(async (email: string, opts: UsersFileOptions & { groups: string[]; slackId?: string; name?: string }, command: Command) => {
    emit(command, await usersAdd(email, opts));
  });
  fileOptions(users.command('rotate <email>').description('issue a new token; the old one stops working')).action(
    async (email: string, opts: UsersFileOptions, command: Command) => {
      emit(command, await usersRotate(email, opts));
    },
  );
  fileOptions(users.command('list').description('list people, groups and status (never verifiers)').option('--json', 'JSON output')).action(
    async (opts: UsersFileOptions & { json?: boolean }, command: Command) => {
      emit(command, await usersList(opts));
    },
  );
  fileOptions(users.command('remove <email>').description('remove a person')).action(async (email: string, opts: UsersFileOptions, command: Command) => {
    emit(command, await usersRemove(email, opts));
  });
}
