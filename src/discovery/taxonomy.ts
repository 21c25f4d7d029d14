/**
 * The one category taxonomy of the catalog ("outpost-saas-v1"): a flat, closed list, each app in
 * exactly one category (its primary use). docs/DISCOVERY.md reproduces this table.
 *
 * Categories with `system: true` hold traffic a device makes by itself or that every web page
 * pulls in (OS updates, push channels, connectivity checks, web fonts, CDN edges): nobody chose
 * to use such an "app", so it is never shadow IT. Discovery gives these apps the sanction state
 * `monitored` unless the administrator set one (never `discovery.defaultSanction`), so they stay
 * out of the unsanctioned lists, and marks them `system: true` in events and reports.
 */
export const TAXONOMY_ID = 'outpost-saas-v1';

export interface Category { id: string; name: string; description: string; system?: true }

export const CATEGORIES: ReadonlyArray<Category> = [
  { id: 'analytics', name: 'Analytics & BI', description: 'product/web analytics, business intelligence, data pipelines' },
  { id: 'automation', name: 'Automation', description: 'workflow and integration platforms (iPaaS)' },
  { id: 'backup', name: 'Backup', description: 'cloud backup of endpoints and servers' },
  { id: 'cloud-infrastructure', name: 'Cloud infrastructure', description: 'IaaS/PaaS, hosting, CDN control planes' },
  { id: 'collaboration', name: 'Collaboration', description: 'team chat, whiteboards, async video for work' },
  { id: 'consumer-vpn', name: 'Consumer VPN', description: 'VPN services that tunnel traffic out of the network' },
  { id: 'crm', name: 'CRM & sales', description: 'customer relationship management, sales engagement, lead data' },
  { id: 'customer-support', name: 'Customer support', description: 'help desk, live chat, contact centre' },
  { id: 'database', name: 'Database', description: 'hosted databases and data warehouses' },
  { id: 'design', name: 'Design & media creation', description: 'design, diagramming, presentations, video editing, stock media' },
  { id: 'developer-tools', name: 'Developer tools', description: 'code hosting, CI, package registries, APIs for developers' },
  { id: 'e-commerce', name: 'E-commerce', description: 'online shops and marketplaces, storefront platforms' },
  { id: 'e-signature', name: 'E-signature & documents', description: 'electronic signature, contracts, proposals' },
  { id: 'education', name: 'Education & training', description: 'learning platforms, LMS, courses' },
  { id: 'email', name: 'Email', description: 'mailbox providers (business and personal webmail)' },
  { id: 'file-sharing', name: 'File sharing & storage', description: 'cloud storage, sync, file transfer, image hosting' },
  { id: 'finance', name: 'Finance & accounting', description: 'accounting, billing, spend management, planning' },
  { id: 'forms-surveys', name: 'Forms & surveys', description: 'form builders, survey tools' },
  { id: 'gaming', name: 'Gaming', description: 'game stores and online game networks' },
  { id: 'generative-ai', name: 'Generative AI', description: 'AI assistants, model APIs, AI content generation' },
  { id: 'hr', name: 'HR & recruiting', description: 'HRIS, payroll, recruiting, performance, freelance marketplaces' },
  { id: 'identity', name: 'Identity & access', description: 'identity providers, SSO, account portals' },
  { id: 'it-service-management', name: 'IT management', description: 'ITSM, incident response, device management, RMM' },
  { id: 'marketing', name: 'Marketing', description: 'email marketing, social media management, SEO, ads, events' },
  { id: 'messaging', name: 'Messaging', description: 'consumer instant messaging' },
  { id: 'monitoring', name: 'Monitoring & observability', description: 'logs, metrics, APM, error tracking, uptime' },
  { id: 'os-services', name: 'Operating system services', description: 'device and OS background traffic: updates, push channels, connectivity and time checks, certificate status (Android, Apple, Windows)', system: true },
  { id: 'payments', name: 'Payments', description: 'payment processors, money transfer, crypto exchanges' },
  { id: 'productivity', name: 'Productivity', description: 'office suites, notes, tasks, writing and translation aids' },
  { id: 'project-management', name: 'Project management', description: 'work and issue tracking, planning' },
  { id: 'remote-access', name: 'Remote access', description: 'remote desktop, tunnels, mesh VPN, virtual desktops' },
  { id: 'search', name: 'Search & reference', description: 'web search engines, encyclopedias' },
  { id: 'security', name: 'Security', description: 'endpoint, email and cloud security; password managers; certificates' },
  { id: 'social-media', name: 'Social media', description: 'social networks and communities' },
  { id: 'streaming-media', name: 'Streaming media', description: 'video and audio streaming, video hosting' },
  { id: 'telephony', name: 'Telephony', description: 'cloud phone systems (UCaaS voice)' },
  { id: 'travel-expense', name: 'Travel & expense', description: 'booking, ride hailing, expense reporting' },
  { id: 'video-conferencing', name: 'Video conferencing', description: 'meetings and webinars' },
  { id: 'web-infrastructure', name: 'Web infrastructure', description: 'what web pages load whatever site is visited: web fonts, CDN edges that name no customer', system: true },
  { id: 'web-publishing', name: 'Web publishing', description: 'site builders, CMS, blogs, documentation hosting' },
];

export const CATEGORY_IDS: ReadonlySet<string> = new Set(CATEGORIES.map((c) => c.id));

/** Categories of system traffic (see above): not shadow IT. */
export const SYSTEM_CATEGORY_IDS: ReadonlySet<string> = new Set(CATEGORIES.filter((c) => c.system === true).map((c) => c.id));

/** Category of apps built from names no catalog entry matches. */
export const UNCLASSIFIED_CATEGORY = 'unclassified';
