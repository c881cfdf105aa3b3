/** Bad input (no daemon, wrong DOCKER_HOST, no such stack, bad flag): one line, exit code 2. */
export class DoctorInputError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DoctorInputError";
    }
}
