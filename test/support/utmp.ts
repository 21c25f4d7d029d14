/**
 * utmp files for the agent's tests: USER_PROCESS records in glibc's x86-64 layout (struct utmp,
 * 384 bytes: ut_type at 0, ut_pid at 4, ut_line[32] at 8, ut_id[4] at 40, ut_user[32] at 44,
 * ut_tv.tv_sec at 340), which `who FILE` reads like /var/run/utmp.
 */
export function utmpRecords(users: ReadonlyArray<{ user: string; line: string }>): Buffer {
  return Buffer.concat(users.map(({ user, line }) => {
    const ut = Buffer.alloc(384);
    ut.writeInt16LE(7, 0); // USER_PROCESS
    ut.writeInt32LE(process.pid, 4);
    ut.write(line, 8);
    ut.write(line.slice(-4), 40);
    ut.write(user, 44);
    ut.writeInt32LE(Math.floor(Date.now() / 1000), 340);
    return ut;
  }));
}
