/** The recording activity doubles live in src/bench (the fleet benchmark runs the same doubles). */
export * from '../../src/bench/recording-activities';
