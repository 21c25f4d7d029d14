import dp from 'dns-packet';
import { parseDnsMessage, DnsMessageInfo } from './message.js';
import { DnsCounters } from './counters.js';
const buf = dp.encode({type:'response',id:0x1234,flags:dp.RECURSION_DESIRED|dp.RECURSION_AVAILABLE,questions:[{type:'A',name:'WWW.example.com'}],answers:[{type:'CNAME',name:'www.example.com',ttl:300,data:'edge.example.net'},{type:'A',name:'edge.example.net',ttl:60,data:'93.184.216.34'},{type:'AAAA',name:'edge.example.net',ttl:60,data:'2001:0:0:1::1'}]});
const out = new DnsMessageInfo(); const c = new DnsCounters();
console.log(parseDnsMessage(buf,0,buf.length,out,{counters:c}), out, c.snapshot());
for (let r=0;r<3;r++){const N=300000;const t=process.hrtime.bigint();for(let i=0;i<N;i++){parseDnsMessage(buf,0,buf.length,out,{counters:c})}const ns=Number(process.hrtime.bigint()-t);console.log((N/(ns/1e9)).toFixed(0),'msg/s')}
import { parseDnsFast } from './fast.js';
console.log(parseDnsFast(buf,0,buf.length,out,{counters:c}), JSON.stringify(out));
for (let r=0;r<3;r++){const N=1000000;const t=process.hrtime.bigint();for(let i=0;i<N;i++){parseDnsFast(buf,0,buf.length,out,{counters:c})}const ns=Number(process.hrtime.bigint()-t);console.log((N/(ns/1e9)).toFixed(0),'fast msg/s')}
